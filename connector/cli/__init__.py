"""The application layer: the `connector` command, one module per command group, and the only
place that builds a `Runtime` (the web app's WSGI entry included)."""

from __future__ import annotations

import importlib
import sys

import click

from connector.config import Settings
from connector.errors import UserError
from connector.logs import configure_logging

# (module, attribute) of every command; each module owns its commands
COMMANDS = [
    ("connector.cli.db", "db"),
    ("connector.cli.install", "install"),
    ("connector.cli.sync", "sync"),
    ("connector.cli.score", "score"),
    ("connector.cli.serve", "serve"),
    ("connector.cli.worker", "worker"),
    ("connector.cli.worker", "events"),
    ("connector.cli.sync", "clock"),
    ("connector.cli.sandbox", "sandbox"),
    ("connector.cli.report", "report"),
    ("connector.cli.report", "demo"),
    ("connector.cli.rewards", "rewards"),
    ("connector.cli.audit", "audit"),
    ("connector.cli.app", "app"),
    ("connector.cli.calibrate", "calibrate"),
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
    configure_logging(Settings.from_env())  # every command logs the same way, secrets redacted


def main() -> None:
    """Console-script entry point."""
    cli()


