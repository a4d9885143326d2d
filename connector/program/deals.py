"""Conversion on deals: a deal reaching closed won converts the referral of a contact on it.

Only in the program's `deal_closed_won` mode. One deal counts once: it converts at most one
referral (the earliest attributed open referral among its contacts) and is recorded as that
referral's `conversion_key`, so replays, other contacts on the deal and later deals of the
same contact never reward again. A deal that leaves closed won cancels its referral's
rewards that are not paid yet (the hold period); paid ones stay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger
from connector.program import rewards
from connector.program.announce import announce_conversion, announce_reward
from connector.program.dates import aware, parse_time
from connector.program.removal import push_counters

if TYPE_CHECKING:
    from connector.hubspot.deals import Deal
    from connector.program.setup import ProgramSetup

log = logging.getLogger(__name__)

DEAL_MODE = "deal_closed_won"


@dataclass(frozen=True)
class DealOutcome:
    """What one deal did: the referral it converted (or closed as expired), rewards cancelled."""

    deal_id: str
    converted: str | None = None  # referred contact id
    expired: str | None = None
    cancelled: int = 0


def deal_revenue(deal: Deal) -> Decimal | None:
    """The deal's amount as a number; None when empty or malformed."""
    text = (deal.properties.get("amount") or "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def closed_at(deal: Deal, now: datetime) -> datetime:
    """When the deal closed: its close date, unless empty or in the future (then now)."""
    closed = parse_time(deal.properties.get("closedate"))
    return closed if closed is not None and closed <= now else now


def on_deal(session: Session, setup: ProgramSetup, deal: Deal, contact_ids: Sequence[str],
            now: datetime) -> DealOutcome:
    """Apply one deal's current state to the referrals of its contacts; idempotent.

    May add ledger rows and outbox items to `session`; the caller commits them together with
    marking the deal's events done.
    """
    program = setup.program
    now = aware(now) or now
    if program.conversion_mode != DEAL_MODE:
        return DealOutcome(deal.id)
    won = (deal.properties.get("dealstage") or "") in program.conversion_deal_stages
    keyed = session.scalars(select(Referral).where(Referral.conversion_key == deal.id)
                            .order_by(Referral.id)).all()
    if not won:
        cancelled = sum(_cancel(session, setup, referral, deal, now) for referral in keyed)
        return DealOutcome(deal.id, cancelled=cancelled)
    if keyed:  # this deal already counted; back to closed won after an undo converts again
        redone = [r for r in keyed if _redo(session, setup, r, deal, now)]
        return DealOutcome(deal.id, converted=redone[0].referred_contact_id if redone else None)
    referral = _first_open_referral(session, deal.id, contact_ids, closed_at(deal, now))
    if referral is None:
        return DealOutcome(deal.id)
    granted = rewards.convert(session, program, referral, converted_at=closed_at(deal, now),
                              now=now)
    if referral.status not in ("converted", "expired"):
        return DealOutcome(deal.id)
    referral.conversion_key = deal.id
    if referral.status == "expired":
        return DealOutcome(deal.id, expired=referral.referred_contact_id)
    referral.revenue = deal_revenue(deal)
    if granted:
        _announce(session, setup, referral, granted)
    log.info("deal %s converted referral %s", deal.id, referral.id,
             extra={"contact_id": referral.referred_contact_id})
    return DealOutcome(deal.id, converted=referral.referred_contact_id)


def _first_open_referral(session: Session, deal_id: str, contact_ids: Sequence[str],
                         closed: datetime) -> Referral | None:
    """The earliest attributed open referral among the contacts, row-locked; None when there
    is none or another worker has meanwhile counted the deal.

    A deal that closed before the friend's contact existed made it a customer before anyone
    referred it: it converts nothing (the same rule as the scheduled catch-up)."""
    candidates = session.scalars(
        select(Referral.referred_contact_id)
        .where(Referral.referred_contact_id.in_([str(c) for c in contact_ids]),
               Referral.status.in_(rewards.OPEN))
        .order_by(Referral.attributed_at, Referral.id)).all()
    for contact_id in candidates:
        # locked and re-read: another worker may have converted it since the query
        locked = rewards.lock_referral(session, contact_id)
        # after waiting for the lock, a fresh statement sees what the other worker committed:
        # it may have counted this deal on another of its contacts
        if session.scalar(select(Referral.id).where(Referral.conversion_key == deal_id)
                          .limit(1)) is not None:
            return None
        if locked is None or locked.status not in rewards.OPEN:
            continue
        created = aware(locked.referred_created_at)
        if created is not None and closed < created:
            continue
        return locked
    return None


def _announce(session: Session, setup: ProgramSetup, referral: Referral,
              granted: list[RewardLedger]) -> None:
    """Tell HubSpot: the advocate's counters and reward step, and the friend's reward.

    Unlike a lifecycle conversion, the friend is not the contact being processed, so its
    reward travels in outbox items like the advocate's.
    """
    announce_conversion(session, setup, referral,
                        [r for r in granted if r.role != "friend"])
    for ledger in granted:
        if ledger.role == "friend" and ledger.status not in rewards.UNDECIDED:
            announce_reward(session, setup, ledger)  # the friend's counters


def _undo_reason(deal: Deal) -> str:
    return f"deal {deal.id} left closed won"


def _cancel(session: Session, setup: ProgramSetup, referral: Referral, deal: Deal,
            now: datetime) -> int:
    """The deal left closed won: cancel what the referral has not been paid yet, and tell
    HubSpot the advocate's counters (they follow the ledger)."""
    reason = f"{_undo_reason(deal)} ({deal.properties.get('dealstage') or 'none'})"
    # the program's own undo: it also closes the referral
    count = rewards.cancel_unpaid_for_referral(session, referral, reason, now)
    if count:
        log.info("deal %s left closed won: %d unpaid rewards cancelled", deal.id, count,
                 extra={"contact_id": referral.referred_contact_id})
        push_counters(session, setup, referral.advocate_contact_id,
                      key=f"props:deal-undo:{referral.id}:{deal.id}:{now.isoformat()}")
    return count


def _redo(session: Session, setup: ProgramSetup, referral: Referral, deal: Deal,
          now: datetime) -> bool:
    """The deal is back in closed won after it undid this referral's conversion: inside the
    window the referral converts again, once, its cancelled rewards held anew."""
    if referral.status != "cancelled" or not (referral.review_reason or "").startswith(
            _undo_reason(deal)):
        return False
    revived = rewards.reconvert(session, setup.program, referral,
                                converted_at=closed_at(deal, now), now=now,
                                undo_reason=_undo_reason(deal))
    if referral.status != "converted":
        return False
    log.info("deal %s back in closed won: referral %s converted again, %d rewards held anew",
             deal.id, referral.id, len(revived))
    push_counters(session, setup, referral.advocate_contact_id,
                  key=f"props:deal-redo:{referral.id}:{deal.id}:{now.isoformat()}")
    return True
