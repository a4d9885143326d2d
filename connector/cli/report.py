"""`connector report` (the program's numbers) and `connector demo` (the whole story locally)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from connector.cli.demo import run_demo
from connector.cli.output import JSON_HELP, print_json
from connector.cli.wiring import build_runtime
from connector.errors import UserError
from connector.report.render import print_report
from connector.report.source import load_report

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--since", type=DATE, help="First day of the period (YYYY-MM-DD).")
@click.option("--until", type=DATE, help="Last day of the period, included (YYYY-MM-DD).")
def report(as_json: bool, since: datetime | None, until: datetime | None) -> None:
    """The program's numbers: journey, referrals, rewards, advocates and the connector's health."""
    start = since.replace(tzinfo=UTC) if since else None
    # --until names a day: the period runs to the end of it
    end = until.replace(tzinfo=UTC) + timedelta(days=1) if until else None
    if start and end and end <= start:
        raise UserError("--until is before --since")
    numbers = load_report(build_runtime(), start, end)
    if as_json:
        print_json(numbers)
        return
    print_report(numbers)


@click.command()
@click.option("--serve", is_flag=True,
              help="Keep the sandbox, web app and dashboard running afterwards.")
@click.option("--contacts", default=1500, show_default=True, help="Contacts in the sandbox.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where to keep the demo database (default: a temporary directory).")
def demo(serve: bool, contacts: int, directory: str | None) -> None:
    """Run the whole program locally: sandbox HubSpot, install, sync, weeks of life, report."""
    run_demo(serve=serve, contacts=contacts, directory=directory)
