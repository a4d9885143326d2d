"""`connector rewards list|approve|reject`: the rewards that wait for a person."""

from __future__ import annotations

import csv
import getpass
import sys
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
from connector.program.payouts import mark_paid, payable_by_hand
from connector.program.rewards import RewardDecisionError

STATUSES = ("granted", "pending_approval", "blocked", "held", "payable", "sending", "paid",
            "failed", "cancelled", "rejected")


def reward_row(ledger: RewardLedger) -> dict[str, object]:
    """One reward as the CLI prints it (no email, no personal data besides the contact id)."""
    return {
        "id": ledger.id, "referral_id": ledger.referral_id, "role": ledger.role,
        "contact_id": ledger.contact_id, "amount": number_text(ledger.amount),
        "unit": ledger.unit, "label": ledger.label, "status": ledger.status,
        # a failed payout shows the provider's reason
        "reason": ledger.payout_error if ledger.status == "failed" else ledger.reason,
        "created_at": ledger.created_at.isoformat() if ledger.created_at else None,
        "decided_by": ledger.decided_by,
        "paid_at": ledger.paid_at.isoformat() if ledger.paid_at else None,
        "payout_reference": ledger.payout_reference,
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


@rewards.command()
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet or a bank upload.")
def payable(as_csv: bool) -> None:
    """Rewards a person has to pay (roles paid `manual`), oldest first."""
    runtime = build_runtime()
    with runtime.sessions() as session:
        rows = [reward_row(r) for r in payable_by_hand(session, runtime.program)]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["id", "role", "contact_id", "amount", "unit", "label", "status",
                         "reason"])
        for row in rows:
            writer.writerow([row["id"], row["role"], row["contact_id"], row["amount"],
                             row["unit"], row["label"], row["status"], row["reason"] or ""])
        return
    print_rows(rows, as_json=False, empty="nothing to pay", line=lambda row: (
        f"{row['id']:>6}  {row['role']:<8} contact {row['contact_id']:<12} "
        f"{row['amount']} {row['unit']}  {row['label']}"))


@rewards.command()
@click.argument("reward_ids", nargs=-1, type=int, required=True)
@click.option("--reference", default=None,
              help="Your payment's reference (transfer id, gift card number...).")
def paid(reward_ids: tuple[int, ...], reference: str | None) -> None:
    """Record that these rewards were paid by hand; each once."""
    runtime = build_runtime()
    by = f"cli:{getpass.getuser()}"
    now = datetime.now(UTC)
    refused = []
    with transaction(runtime.sessions) as session:
        for reward_id in reward_ids:
            if not mark_paid(session, runtime, reward_id, reference=reference or "manual",
                             now=now, by=by):
                refused.append(reward_id)
    for reward_id in reward_ids:
        if reward_id not in refused:
            click.echo(f"reward {reward_id} paid")
    if refused:
        raise UserError(f"not waiting to be paid (unknown, not payable yet, or already paid): "
                        f"{', '.join(map(str, refused))}")
