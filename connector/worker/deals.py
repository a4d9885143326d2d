"""Deal events from the inbox: re-read the deals and their contacts, then let the program
convert referrals, committed together with marking the events done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.db.models import utcnow
from connector.queue.inbox import ClaimedEvent, mark_done
from connector.worker.drain import DrainSummary, _fail
from connector.worker.plan import BatchPlan

if TYPE_CHECKING:
    from connector.runtime import Runtime


def convert_deals(runtime: Runtime, plan: BatchPlan, events: dict[int, ClaimedEvent],
                  summary: DrainSummary, max_attempts: int) -> None:
    """Handle every deal of the batch once; their events done in the same transaction."""
    from connector.hubspot.deals import deal_contact_ids, read_deals
    from connector.program.deals import DEAL_MODE, on_deal

    event_ids = sorted({i for ids in plan.deals.values() for i in ids})
    try:
        deals, contacts = [], {}
        if runtime.program.conversion_mode == DEAL_MODE:
            # events are hints: the deal's stage and contacts now are what counts
            deals = read_deals(runtime.gateway, list(plan.deals))
            contacts = deal_contact_ids(runtime.gateway, [d.id for d in deals])
        now = utcnow()
        with runtime.sessions() as session, session.begin():
            for deal in deals:  # a deal HubSpot no longer has converts nothing
                on_deal(session, runtime, deal, contacts.get(deal.id, []), now)
            mark_done(session.connection(), event_ids, now)
    except Exception as exc:  # noqa: BLE001 - retried with backoff, then dead-lettered
        _fail(runtime, [events[i] for i in event_ids], exc, summary, max_attempts)
        return
    summary.handled += len(event_ids)
