"""Paying rewards: a payable reward moves `payable -> sending -> paid`, or `failed` with the
provider's reason (retried with backoff, then left for a person), once.

Exactly once across the provider: the idempotency key is derived from the ledger row (never
random) and written, with the row's move to `sending`, before the provider is called. A
process that dies after the provider accepted the order and before `paid` was committed
leaves the row `sending`; when its lease ends the next run calls the provider again with the
same key, which answers with the order it already holds instead of placing a second one.
Claims select with FOR UPDATE SKIP LOCKED on PostgreSQL, so payout workers share the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from connector.db.models import RewardLedger
from connector.program.announce import announce_paid
from connector.program.config import ProgramConfig
from connector.program.counters import number_text
from connector.program.setup import ProgramSetup

LEASE = timedelta(minutes=2)  # a payout call (with its retries) ends well within this
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=6)
PAID_STATES = ("sending", "paid")  # what counts against the daily limit
ERROR_CHARS = 500


@dataclass(frozen=True)
class Payout:
    """A reward this process is paying: its key, amount and recipient contact."""

    ledger_id: int
    key: str
    provider: str
    role: str
    contact_id: str
    amount: Decimal
    unit: str
    attempts: int


def payout_key(ledger_id: int) -> str:
    """The provider's idempotency key for a ledger row: the same row, the same key."""
    return f"advocate-connector-reward-{ledger_id}"


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: exponential, capped."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))


def _day_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def claim_payouts(session: Session, program: ProgramConfig, now: datetime, *, provider: str,
                  limit: int = 50) -> list[Payout]:
    """Take up to `limit` rewards this provider pays that are due: payable, `sending` with an
    ended lease (a process died mid-call), or `failed` and due for a retry. Each is `sending`
    with its key and a lease when this returns (the caller commits).

    A reward that would take the day's payouts above `payouts.daily_limit` waits in
    `pending_approval` with the reason, unless a person already approved it.
    """
    roles = [role for role, name in program.payout_providers.items() if name == provider]
    if not roles:
        return []
    due = (select(RewardLedger)
           .where(RewardLedger.role.in_(roles), or_(
               RewardLedger.status == "payable",
               (RewardLedger.status == "sending") & (RewardLedger.payout_next_at <= now),
               (RewardLedger.status == "failed") & (RewardLedger.payout_next_at <= now)))
           .order_by(RewardLedger.id).limit(limit)
           .with_for_update(skip_locked=True))
    rows = list(session.scalars(due))
    spent = _spent_today(session, now)
    claimed = []
    for row in rows:
        fresh = row.status != "sending"  # a `sending` row is already counted in `spent`
        if (fresh and program.payout_daily_limit is not None
                and not _approved_by_person(row)
                and spent + row.amount > program.payout_daily_limit):
            row.status = "pending_approval"
            row.reason = (f"daily payout limit of {program.payout_daily_limit} {row.unit} "
                          "reached; approve to pay it anyway")
            continue
        if fresh:
            spent += row.amount
        row.status = "sending"
        row.payout_key = row.payout_key or payout_key(row.id)
        row.payout_provider = provider
        row.payout_attempts = (row.payout_attempts or 0) + 1
        row.payout_next_at = now + LEASE
        claimed.append(Payout(row.id, row.payout_key, provider, row.role, row.contact_id,
                              row.amount, row.unit, row.payout_attempts))
    return claimed


def _approved_by_person(row: RewardLedger) -> bool:
    return bool(row.decided_by) and row.decided_by != "rules"


def _spent_today(session: Session, now: datetime) -> Decimal:
    """What was paid today or is being paid now (the limit's running total)."""
    start = _day_start(now)
    total = session.scalar(
        select(func.coalesce(func.sum(RewardLedger.amount), 0)).where(
            RewardLedger.status.in_(PAID_STATES),
            or_(RewardLedger.paid_at >= start, RewardLedger.status == "sending")))
    return Decimal(str(total or 0))


def record_paid(session: Session, ledger_id: int, *, reference: str, now: datetime,
                by: str | None = None) -> bool:
    """The reward is paid (with the provider's order id or a person's reference); once."""
    values: dict[str, object] = {"status": "paid", "paid_at": now, "payout_reference":
                                 reference[:128], "payout_next_at": None, "payout_error": None}
    if by:
        values["payout_provider"] = "manual"
        values["decided_by"] = by[:64]
    result = session.execute(
        update(RewardLedger)
        .where(RewardLedger.id == ledger_id,
               RewardLedger.status.in_(("payable", "sending", "failed")))
        .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_paid(session: Session, setup: ProgramSetup, ledger_id: int, *, reference: str,
              now: datetime, by: str | None = None) -> bool:
    """Record the payment once and tell HubSpot through the outbox: the reward workflow's
    trigger (or enrollment) and `referral_rewards_paid`; False when the reward was not
    waiting to be paid."""
    if not record_paid(session, ledger_id, reference=reference, now=now, by=by):
        return False
    ledger = session.get(RewardLedger, ledger_id, populate_existing=True)
    assert ledger is not None
    total = number_text(paid_total(session, ledger.contact_id))
    announce_paid(session, setup, ledger,
                  {setup.property_schema.name("referral_rewards_paid"): total})
    return True


def record_failure(session: Session, payout: Payout, reason: str, now: datetime, *,
                   retry: bool) -> None:
    """`failed` with the provider's reason; retried with backoff while `retry` and attempts
    remain, else left for a person (no next attempt)."""
    again = retry and payout.attempts < MAX_ATTEMPTS
    session.execute(
        update(RewardLedger).where(RewardLedger.id == payout.ledger_id,
                                   RewardLedger.status == "sending")
        .values(status="failed", payout_error=reason[:ERROR_CHARS],
                payout_next_at=now + backoff(payout.attempts) if again else None)
        .execution_options(synchronize_session=False))


def release(session: Session, payouts: Sequence[Payout]) -> None:
    """Give rewards back untried (the provider refused our credentials): back to payable."""
    session.execute(
        update(RewardLedger)
        .where(RewardLedger.id.in_([p.ledger_id for p in payouts]),
               RewardLedger.status == "sending")
        .values(status="payable", payout_next_at=None,
                payout_attempts=RewardLedger.payout_attempts - 1)
        .execution_options(synchronize_session=False))


def payable_by_hand(session: Session, program: ProgramConfig) -> list[RewardLedger]:
    """What a person has to pay: payable (or failed) rewards of the roles paid by hand."""
    roles = [role for role, name in program.payout_providers.items() if name == "manual"]
    return list(session.scalars(
        select(RewardLedger).where(RewardLedger.role.in_(roles),
                                   RewardLedger.status.in_(("payable", "failed")))
        .order_by(RewardLedger.id)))


def paid_total(session: Session, contact_id: str) -> Decimal:
    """The value of the contact's rewards that reached it (`referral_rewards_paid`)."""
    total = session.scalar(select(func.coalesce(func.sum(RewardLedger.amount), 0)).where(
        RewardLedger.contact_id == contact_id, RewardLedger.status == "paid"))
    return Decimal(str(total or 0))
