"""Contacts that disappeared from HubSpot while no webhook told us: deleted or merged away.

A complete full pass reads every live contact; a contact the connector knows that the pass
did not see is checked with a batch read. A merge keeps the primary record's id
(https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge);
reading a merged-away id answers with that surviving record, which lists the old id in
`hs_merged_object_ids` (the sandbox emulates this); an id not answered at all was deleted.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from connector.db.models import ContactState
from connector.db.session import transaction
from connector.hubspot.gateway import BATCH_SIZE
from connector.hubspot.records import Contact
from connector.program import hooks

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

MERGED_IDS = "hs_merged_object_ids"


class SeenContacts:
    """The ids a full pass read, kept compactly (8 bytes each) in the order they came."""

    def __init__(self) -> None:
        self._ids = array("q")
        self._sorted = True

    def add(self, contacts: Iterable[Contact]) -> None:
        """Remember a page of contacts."""
        for contact in contacts:
            value = int(contact.id)
            if self._ids and value < self._ids[-1]:
                self._sorted = False  # pages come in id order; a repeat or a late edit may not
            self._ids.append(value)

    def __contains__(self, contact_id: object) -> bool:
        try:
            value = int(str(contact_id))
        except ValueError:
            return False
        if not self._sorted:
            self._ids = array("q", sorted(self._ids))
            self._sorted = True
        index = bisect_left(self._ids, value)
        return index < len(self._ids) and self._ids[index] == value


def unseen_contacts(runtime: Runtime, seen: SeenContacts) -> Iterator[str]:
    """Known, live contacts the pass did not read."""
    with runtime.sessions() as session:
        for contact_id in session.scalars(
                select(ContactState.contact_id)
                .where(ContactState.deleted_at.is_(None), ContactState.merged_into.is_(None))
                .order_by(ContactState.contact_id).execution_options(yield_per=1000)):
            if contact_id not in seen:
                yield contact_id


def classify(wanted: list[str], found: list[Contact]) -> dict[str, str | None]:
    """For ids HubSpot no longer answers as themselves: survivor id (merged) or None (deleted)."""
    alive = {c.id for c in found if not c.archived}
    survivors = {}
    for contact in found:
        for old in str(contact.properties.get(MERGED_IDS) or "").split(";"):
            if old.strip():
                survivors[old.strip()] = contact.id
    return {cid: survivors.get(cid) for cid in wanted if cid not in alive}


def settle_vanished(runtime: Runtime, seen: SeenContacts, *, now: datetime | None = None
                    ) -> dict[str, int]:
    """Treat unseen contacts HubSpot no longer has as deleted or merged; counts of each."""
    now = now or datetime.now(UTC)
    counts = {"checked": 0, "deleted": 0, "merged": 0}
    batch: list[str] = []

    def check(ids: list[str]) -> None:
        counts["checked"] += len(ids)
        gone = classify(ids, runtime.gateway.read_contacts(ids, [MERGED_IDS]))
        with transaction(runtime.sessions) as session:
            for contact_id, survivor in gone.items():
                kind = "merge" if survivor else "deletion"
                hooks.on_contact_removed(session, runtime, contact_id, kind, survivor, now)
                counts["merged" if survivor else "deleted"] += 1

    for contact_id in list(unseen_contacts(runtime, seen)):
        batch.append(contact_id)
        if len(batch) == BATCH_SIZE:
            check(batch)
            batch = []
    if batch:
        check(batch)
    if counts["deleted"] or counts["merged"]:
        log.info("full sync: %d contacts deleted and %d merged without a webhook",
                 counts["deleted"], counts["merged"])
    return counts
