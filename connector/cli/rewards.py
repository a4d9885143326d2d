"""`connector rewards list|approve|reject`: the rewards that wait for a person."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click
from sqlalchemy import select

from connector.cli.output import print_rows
from connector.cli.wiring import build_runtime
from connector.db.models import RewardLedger
from connector.db.session import transaction
from connector.errors import UserError
from connector.program.counters import number_text
from connector.program.decisions import decide_reward
from connector.program.rewards import RewardDecisionError

STATUSES = ("granted", "pending_approval", "blocked", "held", "payable", "cancelled", "rejected")


def reward_row(ledger: RewardLedger) -> dict[str, object]:
    """One reward as the CLI prints it (no email, no personal data besides the contact id)."""
    return {
        "id": ledger.id, "referral_id": ledger.referral_id, "role": ledger.role,
        "contact_id": ledger.contact_id, "amount": number_text(ledger.amount),
        "unit": ledger.unit, "label": ledger.label, "status": ledger.status,
        "reason": ledger.reason,
        "created_at": ledger.created_at.isoformat() if ledger.created_at else None,
        "decided_by": ledger.decided_by,
    }


@click.group()
def rewards() -> None:
    """List the program's rewards; approve or reject those waiting for a person."""


@rewards.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only rewards in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def list_rewards(status: str | None, as_json: bool) -> None:
    """List rewards, newest first."""
    runtime = build_runtime()
    with transaction(runtime.sessions) as session:
        query = select(RewardLedger).order_by(RewardLedger.id.desc())
        if status:
            query = query.where(RewardLedger.status == status)
        rows = [reward_row(r) for r in session.scalars(query)]
    print_rows(rows, as_json=as_json, empty="no rewards", line=lambda row: (
        f"{row['id']:>6}  {row['status']:<16} {row['role']:<8} "
        f"contact {row['contact_id']:<12} {row['amount']} {row['unit']}  "
        f"{row['reason'] or ''}").rstrip())


def _decide(reward_id: int, *, approve: bool, reason: str | None) -> RewardLedger:
    runtime = build_runtime()
    runtime.program  # noqa: B018 - the program file is validated before the ledger is touched
    by = f"cli:{getpass.getuser()}"
    try:
        with transaction(runtime.sessions) as session:
            ledger = decide_reward(session, runtime, reward_id, approve=approve, by=by,
                                   reason=reason, now=datetime.now(UTC))
    except RewardDecisionError as exc:
        raise UserError(str(exc)) from None
    return ledger


@rewards.command()
@click.argument("reward_id", type=int)
def approve(reward_id: int) -> None:
    """Grant a reward that waits for approval (or was blocked by a cap)."""
    ledger = _decide(reward_id, approve=True, reason=None)
    click.echo(f"reward {ledger.id} granted ({ledger.status}): {number_text(ledger.amount)} "
               f"{ledger.unit} to contact {ledger.contact_id}")


@rewards.command()
@click.argument("reward_id", type=int)
@click.option("--reason", default=None, help="Why it is rejected (kept in the ledger).")
def reject(reward_id: int, reason: str | None) -> None:
    """Reject a reward that waits for approval; it is never granted."""
    ledger = _decide(reward_id, approve=False, reason=reason or "rejected by a person")
    click.echo(f"reward {ledger.id} rejected")
