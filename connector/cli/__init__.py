"""The application layer: the `connector` command, one module per command group, and the only
place that builds a `Runtime` (the web app's WSGI entry included)."""

from __future__ import annotations

import importlib
import sys
import traceback

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


JSON_CONVENTION = ("Every --json prints one JSON document on stdout: an object, or an array "
                   "for a list.")
UNEXPECTED_EXIT = 1


def _settings_for_messages() -> Settings:
    """The settings a failure line names (database, HubSpot host); defaults if they are bad."""
    try:
        return Settings.from_env()
    except UserError:
        return Settings()


def failure_line(exc: BaseException) -> tuple[str, int]:
    """The one line (and exit code) for any failure of a command."""
    from connector.runtime import describe_failure  # the runtime's imports load lazily

    if isinstance(exc, UserError):
        return str(exc), exc.exit_code
    line = describe_failure(exc, _settings_for_messages())
    if line is not None:
        return line, UserError.exit_code
    text = " ".join(str(exc).split())[:300]
    return (f"unexpected {type(exc).__name__}{f': {text}' if text else ''} "
            "(run `connector --debug ...` for the traceback)", UNEXPECTED_EXIT)


class ConnectorGroup(click.Group):
    """Loads commands lazily; the one place a failure becomes one line and a non-zero exit
    (`--debug` adds the traceback)."""

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
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure ends as one line
            line, code = failure_line(exc)
            if ctx.params.get("debug"):
                traceback.print_exc(file=sys.stderr)
            click.echo(f"error: {line}", err=True)
            sys.exit(code)
        finally:
            wiring = sys.modules.get("connector.cli.wiring")
            if wiring is not None:  # the HubSpot calls of a command count in the report
                wiring.save_usage()


@click.group(cls=ConnectorGroup, epilog=JSON_CONVENTION)
@click.version_option(package_name="advocate-connector")
@click.option("--debug", is_flag=True,
              help="Print the traceback of a failure as well as its one line.")
def cli(debug: bool) -> None:
    """Advocate connector: readiness scoring and a referral program for HubSpot."""
    configure_logging(Settings.from_env())  # every command logs the same way, secrets redacted


def main() -> None:
    """Console-script entry point."""
    cli()


