"""Reading deals from HubSpot, then letting the program convert referrals on them: for the deal
events a worker drains, and for the catch-up of conversions no webhook brought.

Events are hints: a deal's stage and contacts as HubSpot has them now are what counts, and
`program.deals.on_deal` counts a deal once, so reading the same deal again converts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import Referral
from connector.db.session import transaction
from connector.hubspot.deals import Deal, contact_deal_ids, deal_contact_ids, read_deals
from connector.program.dates import aware
from connector.program.deals import DEAL_MODE, closed_at, on_deal
from connector.program.due import open_referrals
from connector.runtime import Runtime

log = logging.getLogger(__name__)

# referrals whose deals one run reads at most, oldest first: 10 batches of 100 per hour
CATCH_UP_LIMIT = 1000
CATCH_UP_BATCH = 100  # one association read and one deal read of 100 per batch


def convert_deals(runtime: Runtime, deal_ids: Iterable[str], now: datetime, *,
                  also: Callable[[Session], None] | None = None) -> int:
    """Read these deals and their contacts, then apply them; returns referrals converted.

    `also(session)` runs in the same transaction (the worker marks the deals' events done).
    Outside the program's deal mode nothing is read and only `also` runs.
    """
    deals = []
    if runtime.program.conversion_mode == DEAL_MODE:
        deals = read_deals(runtime.gateway, list(deal_ids))
    return apply_deals(runtime, deals, now, also=also)


def apply_deals(runtime: Runtime, deals: Sequence[Deal], now: datetime, *,
                also: Callable[[Session], None] | None = None) -> int:
    """Read the deals' contacts, then let the program apply each deal in one transaction, the
    earliest close first (when a friend has two won deals, the first one counts)."""
    contacts = deal_contact_ids(runtime.gateway, [d.id for d in deals]) if deals else {}
    converted = 0
    with transaction(runtime.sessions) as session:
        for deal in sorted(deals, key=lambda d: (closed_at(d, now), int(d.id))):
            outcome = on_deal(session, runtime, deal, contacts.get(deal.id, []), now)
            converted += outcome.converted is not None
        if also is not None:
            also(session)
    return converted


def catch_up_deals(runtime: Runtime, now: datetime, *, limit: int = CATCH_UP_LIMIT) -> int:
    """In deal mode, convert open referrals whose friend has a won deal no webhook brought:
    won before the friend was attributed, associated after it was won, or simply missed.

    Reads nothing in lifecycle mode. Idempotent: `on_deal` counts a deal once.
    """
    if runtime.program.conversion_mode != DEAL_MODE:
        return 0
    with runtime.sessions() as session:
        query = open_referrals(runtime.program, now)
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        found = session.execute(query.limit(limit)).all()
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


def _catch_up_batch(runtime: Runtime, created: dict[str, datetime], now: datetime) -> int:
    """One batch of referred contacts: their won deals, not yet counted, through `on_deal`."""
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
    return apply_deals(runtime, won, now) if won else 0


def _after_creation(won: dict[str, Deal], deals_of: dict[str, list[str]],
                    created: dict[str, datetime], now: datetime) -> Sequence[Deal]:
    """The won deals that closed after one of the batch's friends was created: a deal closed
    before then made the contact a customer before anyone referred it, which earns nothing."""
    kept: dict[str, Deal] = {}
    for contact, deal_ids in deals_of.items():
        for deal_id in deal_ids:
            deal = won.get(deal_id)
            if deal is not None and closed_at(deal, now) >= created[contact]:
                kept[deal_id] = deal
    return list(kept.values())
