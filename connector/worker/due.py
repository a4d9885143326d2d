"""The clock's program-due job: reminders that fell due, holds that ended, and deal
conversions a missed webhook left behind, with no change on the contact to make the
incremental sync read it again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from connector.db.session import transaction
from connector.program.journey import due_reminders
from connector.program.rewards import release_held
from connector.runtime import Runtime
from connector.sync.account import remember_account
from connector.sync.deals import catch_up_deals
from connector.sync.rescore import rescore_contacts

log = logging.getLogger(__name__)


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
    with transaction(runtime.sessions) as session:
        released = release_held(session, runtime.program, now)
        due = due_reminders(session, runtime.program, now)
    written = 0
    if due:
        written = rescore_contacts(runtime, due, reason="reminder", now=now).written
    converted = catch_up_deals(runtime, now)
    try:  # once: installs older than the dashboard's record links learn their account here
        remember_account(runtime)
    except Exception as exc:  # noqa: BLE001 - the links wait for the next run
        log.warning("HubSpot account details not read: %s", type(exc).__name__)
    return DueWork(released=released, reminded=len(due), written=written,
                   deals_converted=converted)
