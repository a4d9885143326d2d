"""`connector install [--dry-run]`: create the group, properties and flows the connector needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from connector.cli.installer import CONFLICT, CREATE, UP_TO_DATE, UPDATE, Installer, Plan
from connector.cli.wiring import build_runtime
from connector.errors import UserError
from connector.hubspot.retry import status_of
from connector.sync.account import remember_account

# properties and groups, contact reads/writes, and workflows (flows and v2 enrollment)
INSTALL_SCOPES = ("crm.schemas.contacts.read", "crm.schemas.contacts.write",
                  "crm.objects.contacts.read", "crm.objects.contacts.write", "automation")

STYLES = {CREATE: "green", UPDATE: "yellow", CONFLICT: "bold red", UP_TO_DATE: "dim",
          "created": "green", "updated": "yellow"}


class MissingScopes(UserError):
    """HubSpot answered 403: the private app lacks a scope install needs."""


@contextmanager
def scopes_explained() -> Iterator[None]:
    """Turn a 403 into one line naming the scopes install needs."""
    try:
        yield
    except Exception as exc:
        if status_of(exc) != 403:
            raise
        raise MissingScopes(
            "HubSpot refused the call (403): give the private app the scopes "
            + ", ".join(INSTALL_SCOPES) + " (Settings > Integrations > Private apps > Scopes)"
        ) from None


def render(plan: Plan, console: Console, title: str) -> None:
    """The plan (or what was done) as one table."""
    table = Table(title=title, title_justify="left")
    for column in ("what", "name", "action", "detail"):
        table.add_column(column)
    for step in plan.steps:
        style = STYLES.get(step.action, "")
        table.add_row(step.kind, step.name, f"[{style}]{step.action}[/]" if style else step.action,
                      step.detail)
    console.print(table)


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing in HubSpot.")
@click.pass_context
def install(ctx: click.Context, dry_run: bool) -> None:
    """Create the property group, the properties and the program's workflows in HubSpot."""
    runtime = build_runtime()
    program = runtime.program if runtime.settings.program_path.exists() else None
    installer = Installer(runtime.gateway, runtime.property_schema, program)
    with scopes_explained():
        plan = installer.plan()
    console = Console(highlight=False)
    conflicts = plan.conflicts
    if dry_run:
        render(plan, console, "Install plan (dry run: nothing is written)")
        console.print(f"{len(plan.changes)} change(s) planned, {len(conflicts)} conflict(s).")
    elif not plan.changes:
        render(plan, console, "Install")
        if not conflicts:
            console.print("Everything is up to date; nothing to change.")
    else:
        with scopes_explained():
            plan.apply()
        render(plan, console, "Install")
        made = [s for s in plan.steps if s.action in ("created", "updated")]
        console.print(f"{len(made)} change(s) made.")
    if not dry_run:
        try:  # the dashboard links contacts to their records with it
            account = remember_account(runtime)
            console.print(f"HubSpot account {account.portal_id} ({account.ui_domain}).")
        except SQLAlchemyError:
            console.print("Run `connector db upgrade` first to link the dashboard to HubSpot.")
    if conflicts:
        console.print(f"[bold red]{len(conflicts)} conflict(s) to resolve[/]: "
                      + ", ".join(s.name for s in conflicts))
        ctx.exit(1)
