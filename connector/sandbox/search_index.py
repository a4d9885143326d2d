"""The search index's view of the contacts, kept sorted for the connector's keyset queries.

The connector walks a portal with `hs_object_id > x` sorted by id and `lastmodifieddate >= t`
sorted by lastmodifieddate (connector/hubspot/search.py). Filtering and sorting every contact
for each page made the sandbox, not the HubSpot limits, the bottleneck of a large sync; two
sorted structures updated on each write answer those queries in O(log n + page).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sortedcontainers import SortedDict, SortedList

if TYPE_CHECKING:
    from connector.sandbox.portal import ContactVersion

INF = float("inf")


class SearchIndex:
    """The contacts search sees, by id and by (lastmodifieddate, id); `version` counts changes."""

    def __init__(self) -> None:
        self.by_id: SortedDict = SortedDict()  # id -> ContactVersion
        self.by_modified: SortedList = SortedList()  # (updated_ms, id)
        self.version = 0

    def show(self, cid: int, version: ContactVersion | None) -> None:
        """Make `version` the contact's searchable state (None: drop it from search)."""
        old = self.by_id.pop(cid, None)
        if old is not None:
            self.by_modified.remove((old.updated_ms, cid))
        if version is not None:
            self.by_id[cid] = version
            self.by_modified.add((version.updated_ms, cid))
        self.version += 1

    def contacts(self) -> list[ContactVersion]:
        """Every searchable contact, in id order (for queries the sorted ranges cannot answer)."""
        return list(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def id_range(self, low: float, low_inclusive: bool, high: float = INF,
                 high_inclusive: bool = True) -> tuple[int, int]:
        """Positions [start, end) of the ids between `low` and `high` in id order."""
        ids = self.by_id
        start = ids.bisect_left(low) if low_inclusive else ids.bisect_right(low)
        end = ids.bisect_right(high) if high_inclusive else ids.bisect_left(high)
        return start, max(start, end)

    def modified_range(self, low: tuple[float, float], high: tuple[float, float]
                       ) -> tuple[int, int]:
        """Positions [start, end) of the (lastmodifieddate, id) keys with low <= key < high."""
        start = self.by_modified.bisect_left(low)
        return start, max(start, self.by_modified.bisect_left(high))

    def ids_at(self, start: int, stop: int) -> Iterator[ContactVersion]:
        """The contacts at id-order positions [start, stop)."""
        ids = self.by_id
        for cid in ids.islice(start, stop):
            yield ids[cid]

    def modified_at(self, start: int, stop: int) -> Iterator[ContactVersion]:
        """The contacts at (lastmodifieddate, id)-order positions [start, stop)."""
        ids = self.by_id
        for _, cid in self.by_modified.islice(start, stop):
            yield ids[cid]
