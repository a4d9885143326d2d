"""Re-read, re-score and write back some contacts (the webhook worker's entry point)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector.hubspot.gateway import BATCH_SIZE
from connector.sync.page import process_page, read_properties
from connector.sync.summary import SyncSummary

if TYPE_CHECKING:
    from connector.runtime import Runtime


@dataclass
class RescoreSummary:
    """Contacts read, changed and written; `missing`: ids HubSpot no longer has."""

    read: int = 0
    changed: int = 0
    written: int = 0
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def rescore_contacts(
    runtime: Runtime, contact_ids: Sequence[str], *, reason: str,
    now: datetime | None = None, summary: SyncSummary | None = None,
) -> RescoreSummary:
    """Batch-read these contacts from HubSpot, score them, run the program, write the diff.

    Each batch of 100 is one transaction, like a sync page.
    """
    counts = summary if summary is not None else SyncSummary(mode="rescore")
    before = (counts.read, counts.changed, counts.written, len(counts.failed_ids))
    properties = read_properties(runtime)
    unique = list(dict.fromkeys(str(i) for i in contact_ids))
    missing: list[str] = []
    for start in range(0, len(unique), BATCH_SIZE):
        wanted = unique[start:start + BATCH_SIZE]
        contacts = [c for c in runtime.gateway.read_contacts(wanted, properties)
                    if not c.archived]
        found = {c.id for c in contacts}
        missing.extend(i for i in wanted if i not in found)
        if contacts:
            process_page(runtime, contacts, now=now or datetime.now(UTC), reason=reason,
                         summary=counts)
    return RescoreSummary(
        read=counts.read - before[0], changed=counts.changed - before[1],
        written=counts.written - before[2], missing=missing,
        failed=counts.failed_ids[before[3]:],
    )
