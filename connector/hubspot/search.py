"""Walking every contact (or every recently modified one) with the search API, past 10,000.

HubSpot's search returns at most 10,000 results per query and paging past that is a 400; it
allows one sort (https://developers.hubspot.com/docs/api/crm/search). So every page here is a
fresh query anchored on the last contact seen (keyset paging): no query ever nears the cap,
and a contact edited mid-walk cannot shift an offset and hide another one.

- By id: `hs_object_id > last id`, sorted by hs_object_id.
- By modification: `lastmodifieddate >= last seen T`, sorted by lastmodifieddate, skipping
  the ids already yielded at T. When a whole page shares one T, ordering by date alone cannot
  move on (airbyte #43317), so the contacts at T are walked by id (`lastmodifieddate EQ T` and
  `hs_object_id > last id`), then the walk continues with `lastmodifieddate > T`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.hubspot.records import Contact

PAGE_SIZE = 200  # HubSpot's maximum search page
ID = "hs_object_id"
MODIFIED = "lastmodifieddate"

SearchPage = Callable[[dict[str, Any]], "tuple[list[Contact], bool]"]


def modified_ms(contact: Contact) -> int:
    """A contact's lastmodifieddate in ms since the epoch (HubSpot sends ISO 8601 or ms)."""
    raw = contact.properties.get(MODIFIED)
    if raw:
        if raw.isascii() and raw.isdigit():
            return int(raw)
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
    if contact.updated_at is not None:
        return int(contact.updated_at.timestamp() * 1000)
    raise ValueError(f"contact {contact.id} has no lastmodifieddate")


def _filter(prop: str, operator: str, value: int) -> dict[str, str]:
    return {"propertyName": prop, "operator": operator, "value": str(value)}


class ContactSearch:
    """Pages of contacts from a search function that answers one request body at a time."""

    def __init__(self, search_page: SearchPage) -> None:
        self._search_page = search_page

    def _page(
        self, filters: list[dict[str, str]], sort: str, properties: list[str],
    ) -> tuple[list[Contact], bool]:
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": PAGE_SIZE,
        }
        return self._search_page(body)

    def iter_pages(
        self, properties: Sequence[str], *, modified_since_ms: int | None = None,
        after_object_id: int | None = None,
    ) -> Iterator[list[Contact]]:
        """Pages of contacts, each once (a contact edited during the walk may come again).

        With `modified_since_ms` and `after_object_id` together, the walk resumes inside that
        timestamp: contacts modified exactly then with a larger id, then every later one.
        """
        wanted = list(dict.fromkeys([*properties, ID, MODIFIED]))
        if modified_since_ms is None:
            yield from self._by_id(wanted, after_object_id)
        else:
            yield from self._by_modified(wanted, modified_since_ms, after_object_id)

    def _by_id(
        self, properties: list[str], after_id: int | None,
        at_modified_ms: int | None = None, skip: frozenset[str] = frozenset(),
    ) -> Iterator[list[Contact]]:
        while True:
            filters = [] if at_modified_ms is None else [_filter(MODIFIED, "EQ", at_modified_ms)]
            if after_id is not None:
                filters.append(_filter(ID, "GT", after_id))
            page, more = self._page(filters, ID, properties)
            fresh = [c for c in page if c.id not in skip]
            if fresh:
                yield fresh
            if not page or not more:
                return
            after_id = int(page[-1].id)

    def _by_modified(
        self, properties: list[str], since_ms: int, after_id: int | None,
    ) -> Iterator[list[Contact]]:
        anchor, strictly_after = since_ms, False
        seen_at_anchor: set[str] = set()
        if after_id is not None:
            yield from self._by_id(properties, after_id, at_modified_ms=anchor)
            strictly_after = True
        while True:
            operator = "GT" if strictly_after else "GTE"
            page, more = self._page([_filter(MODIFIED, operator, anchor)], MODIFIED, properties)
            if not page:
                return
            last = modified_ms(page[-1])
            if more and modified_ms(page[0]) == last:
                # a full page at one timestamp: order by id within it, then move past it
                skip = frozenset(seen_at_anchor) if last == anchor else frozenset()
                yield from self._by_id(properties, None, at_modified_ms=last, skip=skip)
                anchor, strictly_after, seen_at_anchor = last, True, set()
                continue
            fresh = [c for c in page
                     if not (c.id in seen_at_anchor and modified_ms(c) == anchor)]
            if fresh:
                yield fresh
            if not more:
                return
            if last != anchor:
                seen_at_anchor = set()
            seen_at_anchor |= {c.id for c in page if modified_ms(c) == last}
            anchor, strictly_after = last, False
