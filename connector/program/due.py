"""Time-driven program work: reminders that fell due, holds that ended, and deal conversions
a missed webhook left behind, with no change on the contact to make the incremental sync read
it again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, select

from connector.db.models import Referral
from connector.db.session import transaction
from connector.program import rewards
from connector.program.config import ProgramConfig
from connector.program.dates import aware
from connector.program.journey import due_reminders
from connector.program.rewards import release_held

if TYPE_CHECKING:
    from connector.hubspot.deals import Deal
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

# referrals whose deals one run reads at most, oldest first: 10 batches of 100 per hour
CATCH_UP_LIMIT = 1000
CATCH_UP_BATCH = 100  # one association read and one deal read of 100 per batch
# a deal won on the window's last day whose webhook was missed is still caught this long after
CATCH_UP_GRACE = timedelta(days=2)


@dataclass(frozen=True)
class DueWork:
    """What one run did: rewards released from their hold, contacts re-scored for a reminder,
    referrals converted by deals the webhooks missed."""

    released: int
    reminded: int
    written: int
    deals_converted: int = 0


def run_due_work(runtime: Runtime, now: datetime) -> DueWork:
    """Release ended holds, re-score the contacts whose reminder is due (on_contact sends it,
    through the same page code as the sync), then catch up deal conversions."""
    from connector.sync.rescore import rescore_contacts  # the sync imports the program

    with transaction(runtime.sessions) as session:
        released = release_held(session, runtime.program, now)
        due = due_reminders(session, runtime.program, now)
    written = 0
    if due:
        written = rescore_contacts(runtime, due, reason="reminder", now=now).written
    converted = catch_up_deals(runtime, now)
    return DueWork(released=released, reminded=len(due), written=written,
                   deals_converted=converted)


def catch_up_deals(runtime: Runtime, now: datetime, *, limit: int = CATCH_UP_LIMIT) -> int:
    """In deal mode, convert open referrals whose friend has a won deal no webhook brought:
    won before the friend was attributed, associated after it was won, or simply missed.

    Reads nothing in lifecycle mode. Idempotent: `on_deal` counts a deal once.
    """
    from connector.program.deals import DEAL_MODE

    if runtime.program.conversion_mode != DEAL_MODE:
        return 0
    with runtime.sessions() as session:
        open_referrals = _open_referrals(runtime.program, now)
        total = session.scalar(select(func.count()).select_from(open_referrals.subquery()))
        found = session.execute(open_referrals.limit(limit)).all()
    if total and total > limit:
        # oldest first: the window ends them, so the newer ones get their turn
        log.info("deal catch-up: %d open referrals, %d read this run, the rest next run",
                 total, limit)
    created = {contact: aware(at) or now for contact, at in found}
    contacts = list(created)
    converted = 0
    for start in range(0, len(contacts), CATCH_UP_BATCH):
        batch = {c: created[c] for c in contacts[start:start + CATCH_UP_BATCH]}
        converted += _catch_up_batch(runtime, batch, now)
    if converted:
        log.info("deal catch-up: %d referrals converted by deals no webhook brought", converted)
    return converted


def _open_referrals(program: ProgramConfig, now: datetime
                    ) -> Select[str, datetime]:
    """(referred contact id, created) of open referrals inside their window, oldest first."""
    created = func.coalesce(Referral.referred_created_at, Referral.attributed_at)
    oldest = now - timedelta(days=program.window_days) - CATCH_UP_GRACE
    return (select(Referral.referred_contact_id, created)
            .where(Referral.status.in_(rewards.OPEN), Referral.conversion_key.is_(None),
                   created >= oldest)
            .order_by(created, Referral.id))


def _catch_up_batch(runtime: Runtime, created: dict[str, datetime], now: datetime) -> int:
    """One batch of referred contacts: their won deals, not yet counted, through `on_deal`."""
    from connector.hubspot.deals import contact_deal_ids, deal_contact_ids, read_deals
    from connector.program.deals import closed_at, on_deal

    gateway, program = runtime.gateway, runtime.program
    deals_of = contact_deal_ids(gateway, list(created))
    candidates = list(dict.fromkeys(d for ids in deals_of.values() for d in ids))
    if not candidates:
        return 0
    with runtime.sessions() as session:
        counted = set(session.scalars(select(Referral.conversion_key)
                                      .where(Referral.conversion_key.in_(candidates))))
    candidates = [d for d in candidates if d not in counted]
    if not candidates:
        return 0
    by_id = {deal.id: deal for deal in read_deals(gateway, candidates)
             if (deal.properties.get("dealstage") or "") in program.conversion_deal_stages}
    won = _after_creation(by_id, deals_of, created, now)
    if not won:
        return 0
    contacts = deal_contact_ids(gateway, [deal.id for deal in won])
    converted = 0
    with transaction(runtime.sessions) as session:
        # the earliest close first: when a friend has two won deals, the first one counts
        for deal in sorted(won, key=lambda d: (closed_at(d, now), int(d.id))):
            outcome = on_deal(session, runtime, deal, contacts.get(deal.id, []), now)
            converted += outcome.converted is not None
    return converted


def _after_creation(won: dict[str, Deal], deals_of: dict[str, list[str]],
                    created: dict[str, datetime], now: datetime) -> Sequence[Deal]:
    """The won deals that closed after one of the batch's friends was created: a deal closed
    before then made the contact a customer before anyone referred it, which earns nothing."""
    from connector.program.deals import closed_at

    kept: dict[str, Deal] = {}
    for contact, deal_ids in deals_of.items():
        for deal_id in deal_ids:
            deal = won.get(deal_id)
            if deal is not None and closed_at(deal, now) >= created[contact]:
                kept[deal_id] = deal
    return list(kept.values())
