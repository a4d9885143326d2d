"""Time-driven program work: reminders that fell due and holds that ended, with no change on
the contact to make the incremental sync read it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from connector.db.session import transaction
from connector.program.journey import due_reminders
from connector.program.rewards import release_held

if TYPE_CHECKING:
    from connector.runtime import Runtime


@dataclass(frozen=True)
class DueWork:
    """What one run did: rewards released from their hold, contacts re-scored for a reminder."""

    released: int
    reminded: int
    written: int


def run_due_work(runtime: Runtime, now: datetime) -> DueWork:
    """Release ended holds, then re-score the contacts whose reminder is due (on_contact
    sends it, through the same page code as the sync)."""
    from connector.sync.rescore import rescore_contacts  # the sync imports the program

    with transaction(runtime.sessions) as session:
        released = release_held(session, runtime.program, now)
        due = due_reminders(session, runtime.program, now)
    written = 0
    if due:
        written = rescore_contacts(runtime, due, reason="reminder", now=now).written
    return DueWork(released=released, reminded=len(due), written=written)
