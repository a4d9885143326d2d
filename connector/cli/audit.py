"""`connector audit <contact id>`: every write the connector made to that contact."""

from __future__ import annotations

import click

from connector.audit.trail import audit_trail, change_text
from connector.cli.output import JSON_HELP, print_json
from connector.cli.wiring import build_runtime
from connector.privacy.erasure import was_erased


@click.command()
@click.argument("contact_id")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N writes.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def audit(contact_id: str, limit: int | None, as_json: bool) -> None:
    """Show what the connector wrote to a contact: time, property before -> after, reason."""
    runtime = build_runtime()
    with runtime.sessions() as session:
        entries = audit_trail(session, contact_id, limit=limit)
        erased = was_erased(session, contact_id)
    if as_json:
        print_json({"contact_id": contact_id, "erased": erased,
                    "writes": [e.as_dict() for e in entries]})
        return
    if erased:
        click.echo(f"contact {contact_id}: personal data erased on request; "
                   "its audit rows were pseudonymised")
    if not entries:
        click.echo(f"no writes recorded for contact {contact_id}")
        return
    for entry in entries:
        when = entry.at.strftime("%Y-%m-%d %H:%M:%S") if entry.at else "?"
        click.echo(f"{when}  {entry.action}  ({entry.reason or 'no reason'})")
        for name, (before, after) in sorted(entry.changes.items()):
            click.echo(f"    {name}: {change_text(before, after)}")
