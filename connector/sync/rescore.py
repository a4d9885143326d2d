"""Re-read, re-score and write back some contacts (the webhook worker's entry point)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError

from connector.errors import UserError
from connector.hubspot.gateway import BATCH_SIZE
from connector.hubspot.retry import CONNECTION_ERRORS, status_of
from connector.sync.page import process_page, read_properties
from connector.sync.summary import SyncSummary

if TYPE_CHECKING:
    from connector.runtime import Runtime


@dataclass
class RescoreSummary:
    """Contacts read, changed and written; `missing`: ids HubSpot no longer has; `failed`: ids
    whose write HubSpot refused; `poisoned`: ids that failed on their own (with `isolate`), with
    the error each met, while the others went on."""

    read: int = 0
    changed: int = 0
    written: int = 0
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    poisoned: dict[str, BaseException] = field(default_factory=dict)


def is_outage(exc: BaseException) -> bool:
    """An error every contact would meet (HubSpot or the database down, a limit, a bad token),
    as opposed to one that comes from some contact's own data."""
    if isinstance(exc, (UserError, OperationalError, InterfaceError, OSError,
                        *CONNECTION_ERRORS)):
        return True
    status = status_of(exc)
    return status is not None and (status >= 500 or status in (401, 403, 429))


def rescore_contacts(
    runtime: Runtime, contact_ids: Sequence[str], *, reason: str,
    now: datetime | None = None, summary: SyncSummary | None = None, isolate: bool = False,
) -> RescoreSummary:
    """Batch-read these contacts from HubSpot, score them, run the program, write the diff.

    Each batch of 100 is one transaction, like a sync page. With `isolate`, a batch that fails
    for a reason other than an outage is split in halves, down to the contacts at fault: those
    are reported in `poisoned` and every other contact is re-scored and committed. An outage
    raises, as without it.
    """
    counts = summary if summary is not None else SyncSummary(mode="rescore")
    before = (counts.read, counts.changed, counts.written, len(counts.failed_ids))
    properties = read_properties(runtime)
    unique = list(dict.fromkeys(str(i) for i in contact_ids))
    missing: list[str] = []
    poisoned: dict[str, BaseException] = {}
    moment = now or datetime.now(UTC)

    def rescore_batch(wanted: list[str]) -> None:
        found_missing: list[str] = []  # kept only if the batch succeeds (a split tries again)
        contacts = [c for c in runtime.gateway.read_contacts(wanted, properties)
                    if not c.archived]
        found = {c.id for c in contacts}
        found_missing.extend(i for i in wanted if i not in found)
        if contacts:
            process_page(runtime, contacts, now=moment, reason=reason, summary=counts)
        missing.extend(found_missing)

    def rescore_alone(wanted: list[str]) -> None:
        snapshot = copy.deepcopy(counts)  # a failed try counts nothing
        try:
            rescore_batch(wanted)
        except Exception as exc:
            vars(counts).update(vars(snapshot))
            if is_outage(exc):
                raise
            if len(wanted) == 1:
                poisoned[wanted[0]] = exc
                return
            middle = len(wanted) // 2
            rescore_alone(wanted[:middle])
            rescore_alone(wanted[middle:])

    for start in range(0, len(unique), BATCH_SIZE):
        wanted = unique[start:start + BATCH_SIZE]
        (rescore_alone if isolate else rescore_batch)(wanted)
    return RescoreSummary(
        read=counts.read - before[0], changed=counts.changed - before[1],
        written=counts.written - before[2], missing=missing,
        failed=counts.failed_ids[before[3]:], poisoned=poisoned,
    )
