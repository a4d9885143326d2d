"""Conversion and rewards: each referral grants at most one reward per role, ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger
from connector.metrics import REWARDS_GRANTED
from connector.program.config import ProgramConfig, Reward
from connector.program.dates import aware
from connector.program.store import insert_once

OPEN = ("attributed", "review")
UNDECIDED = ("pending_approval", "blocked")  # what `connector rewards approve|reject` decides
COUNTS_TOWARDS_CAP = ("granted", "held", "payable", "sending", "paid", "failed",
                      "pending_approval")
# what an undone conversion or a removal still cancels; `payable` has passed its hold
UNPAID = ("pending_approval", "blocked", "held")


class RewardDecisionError(ValueError):
    """The reward is not waiting for a decision (unknown, already granted or rejected)."""


def period_start(now: datetime, period: str) -> datetime:
    """The first instant of the calendar month, quarter or year containing `now` (UTC)."""
    now = now.astimezone(UTC)
    month = {"month": now.month, "quarter": 3 * ((now.month - 1) // 3) + 1, "year": 1}[period]
    return datetime(now.year, month, 1, tzinfo=UTC)


def decide(session: Session, program: ProgramConfig, *, role: str, contact_id: str,
           reward: Reward, review_reason: str | None, now: datetime) -> tuple[str, str | None]:
    """The status a new reward starts in, and why when it is not `granted`."""
    if role == "advocate":
        if program.cap_max is not None:
            used = session.scalar(select(func.count()).select_from(RewardLedger).where(
                RewardLedger.role == "advocate", RewardLedger.contact_id == contact_id,
                RewardLedger.status.in_(COUNTS_TOWARDS_CAP),
                RewardLedger.created_at >= period_start(now, program.cap_period)))
            if (used or 0) >= program.cap_max:
                return "blocked", (f"cap reached: {program.cap_max} advocate rewards per "
                                   f"{program.cap_period}")
        if review_reason:
            return "pending_approval", review_reason
    threshold = program.approval_threshold
    if threshold is not None and reward.amount > threshold:
        return "pending_approval", (f"{reward.amount} {reward.unit} is above the approval "
                                    f"threshold of {threshold}")
    return "granted", None


def lock_referral(session: Session, contact_id: str) -> Referral | None:
    """The contact's referral, row-locked on PostgreSQL so one worker converts it."""
    return session.scalar(
        select(Referral).where(Referral.referred_contact_id == contact_id)
        .with_for_update().execution_options(populate_existing=True))


def convert(session: Session, program: ProgramConfig, referral: Referral, *,
            converted_at: datetime, now: datetime,
            revenue: Decimal | None = None) -> list[RewardLedger]:
    """Close an open referral as converted (inside the window) or expired; the new rewards.

    `revenue`: the referred contact's revenue at conversion, kept for the report.
    """
    if referral.status not in OPEN:
        return []
    created = aware(referral.referred_created_at) or aware(referral.attributed_at) or now
    referral.converted_at = converted_at
    referral.revenue = revenue
    if converted_at - created > timedelta(days=program.window_days):
        days = (converted_at - created).days
        referral.status = "expired"
        referral.review_reason = (f"converted {days} days after creation, outside the "
                                  f"{program.window_days}-day window")
        return []
    review = referral.review_reason if referral.status == "review" else None
    referral.status = "converted"
    session.flush()
    granted = []
    for role, contact_id, reward in (
            ("advocate", referral.advocate_contact_id, program.advocate_reward),
            ("friend", referral.referred_contact_id, program.friend_reward)):
        ledger = add_reward(session, program, referral, role=role, contact_id=contact_id,
                            reward=reward, review_reason=review, now=now)
        if ledger is not None:
            granted.append(ledger)
    return granted


def reconvert(session: Session, program: ProgramConfig, referral: Referral, *,
              converted_at: datetime, now: datetime, undo_reason: str) -> list[RewardLedger]:
    """A conversion that was undone (its rewards cancelled with `undo_reason...`) comes back:
    inside the window the referral converts again and those rewards are granted anew, held
    from now; outside it the referral stays cancelled. The rows are the same (one per
    referral and role), so nothing is ever granted twice."""
    created = aware(referral.referred_created_at) or aware(referral.attributed_at) or now
    if converted_at - created > timedelta(days=program.window_days):
        return []
    referral.status = "converted"
    referral.converted_at = converted_at
    referral.review_reason = None
    revived = list(session.scalars(
        select(RewardLedger).where(RewardLedger.referral_id == referral.id,
                                   RewardLedger.status == "cancelled",
                                   RewardLedger.reason.startswith(undo_reason))
        .with_for_update()))
    for ledger in revived:
        ledger.status = "held" if program.hold_days > 0 else "payable"
        ledger.reason = None
        ledger.created_at = now  # the hold starts again
        ledger.decided_at = now
    session.flush()
    return revived


def add_reward(session: Session, program: ProgramConfig, referral: Referral, *, role: str,
               contact_id: str, reward: Reward, review_reason: str | None,
               now: datetime) -> RewardLedger | None:
    """Insert the ledger row for one role; None when it already exists (UNIQUE per role)."""
    status, reason = decide(session, program, role=role, contact_id=contact_id, reward=reward,
                            review_reason=review_reason, now=now)
    granted = status == "granted"
    if granted:
        status = "held" if program.hold_days > 0 else "payable"
    new_id = insert_once(session, RewardLedger, {
        "referral_id": referral.id, "role": role, "contact_id": contact_id,
        "amount": reward.amount, "unit": reward.unit, "label": reward.label,
        "status": status, "reason": reason, "created_at": now,
        "decided_at": now if granted else None,
        "decided_by": "rules" if granted else None,
    }, ["referral_id", "role"])
    if new_id is None:
        return None
    if granted:
        REWARDS_GRANTED.labels(role=role).inc()
    return session.get(RewardLedger, new_id)


def decide_pending(session: Session, reward_id: int, *, approve: bool, by: str,
                   reason: str | None, now: datetime, hold_days: int) -> RewardLedger:
    """Approve or reject a reward waiting for a person, exactly once.

    An approved reward serves what is left of its hold, counted from its creation (the
    conversion), like one the rules granted at once.
    """
    status = "rejected"
    if approve:
        ledger = session.get(RewardLedger, reward_id)
        created = aware(ledger.created_at) if ledger is not None else None
        status = ("held" if created is not None and now < created + timedelta(days=hold_days)
                  else "payable")
    values: dict[str, object] = {"status": status, "decided_at": now, "decided_by": by[:64]}
    if reason is not None:
        values["reason"] = reason
    result = session.execute(
        update(RewardLedger)
        .where(RewardLedger.id == reward_id, RewardLedger.status.in_(UNDECIDED))
        .values(**values).execution_options(synchronize_session=False))
    ledger = session.get(RewardLedger, reward_id, populate_existing=True)
    if ledger is None:
        raise RewardDecisionError(f"no reward with id {reward_id}")
    if not result.rowcount:  # type: ignore[attr-defined]
        raise RewardDecisionError(
            f"reward {reward_id} is {ledger.status}, not waiting for a decision")
    if approve:
        REWARDS_GRANTED.labels(role=ledger.role).inc()
    return ledger


def release_held(session: Session, program: ProgramConfig, now: datetime, *,
                 contact_ids: list[str] | None = None, referral_id: int | None = None) -> int:
    """Held rewards whose hold is over become payable (all, or these contacts' or this
    referral's); how many."""
    where: list[ColumnElement[bool]] = [
        RewardLedger.status == "held",
        RewardLedger.created_at <= now - timedelta(days=program.hold_days)]
    if contact_ids is not None:
        where.append(RewardLedger.contact_id.in_(contact_ids))
    if referral_id is not None:
        where.append(RewardLedger.referral_id == referral_id)
    result = session.execute(
        update(RewardLedger).where(*where).values(status="payable")
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def cancel_unpaid_for_referral(session: Session, referral: Referral, reason: str,
                               now: datetime, *, program: ProgramConfig | None = None) -> int:
    """The conversion was undone (stage regressed, friend deleted, deal reopened): cancel its
    rewards still in their hold or waiting for a person, and close the referral if any were.

    Rewards already payable (the hold is over) stay: the hold exists so that they can. Pass
    `program` so that a hold that ended but was not released yet counts as over.
    Returns how many rewards were cancelled; idempotent.
    """
    if program is not None:
        release_held(session, program, now, referral_id=referral.id)
    cancelled = cancel_unpaid(session, reason, now, referral_id=referral.id)
    if referral.status == "converted" and cancelled:
        referral.status = "cancelled"
        referral.review_reason = reason
    return cancelled


def cancel_unpaid(session: Session, reason: str, now: datetime, *,
                  contact_id: str | None = None, referral_id: int | None = None) -> int:
    """Cancel the rewards of a contact (or a referral) not payable yet; payable ones stay."""
    where: list[ColumnElement[bool]] = [RewardLedger.status.in_(UNPAID)]
    if contact_id is not None:
        where.append(RewardLedger.contact_id == contact_id)
    if referral_id is not None:
        where.append(RewardLedger.referral_id == referral_id)
    result = session.execute(
        update(RewardLedger).where(*where)
        .values(status="cancelled", reason=reason, decided_at=now, decided_by="rules")
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
