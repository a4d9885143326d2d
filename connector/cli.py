"""The `connector` command: one group; each part of the connector brings its own commands."""

from __future__ import annotations

import importlib
import sys

import click

from connector.errors import UserError

# (module, attribute) of every command; each module owns its commands
COMMANDS = [
    ("connector.db.commands", "db"),
    ("connector.hubspot.commands", "install"),
    ("connector.sync.commands", "sync"),
    ("connector.scoring.commands", "score"),
    ("connector.web.commands", "serve"),
    ("connector.worker.commands", "worker"),
    ("connector.worker.commands", "events"),
    ("connector.sync.commands", "clock"),
    ("connector.sandbox.commands", "sandbox"),
    ("connector.report.commands", "report"),
    ("connector.report.commands", "demo"),
    ("connector.program.commands", "rewards"),
    ("connector.audit.commands", "audit"),
]


class ConnectorGroup(click.Group):
    """Loads commands lazily and turns a UserError into one line and a non-zero exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({attr for _, attr in COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, attr in COMMANDS:
            if attr == cmd_name:
                command = getattr(importlib.import_module(module), attr)
                assert isinstance(command, click.Command)
                return command
        return None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=ConnectorGroup)
@click.version_option(package_name="advocate-connector")
def cli() -> None:
    """Advocate connector: readiness scoring and a referral program for HubSpot."""
    from connector.config import Settings
    from connector.logs import configure_logging

    configure_logging(Settings.from_env())  # every command logs the same way, secrets redacted


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
