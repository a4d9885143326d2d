"""POST /crm/v3/objects/contacts/search: filters, one sort, offset paging, the 10,000 cap.

Limits from HubSpot's CRM search guide ("Limitations"): up to 200 results per page, 10,000
results per query (paging past them is a 400), one sort. Filter groups: the guide has said
3 x 3, then 5 groups x 6 filters with 18 in all, and a 2024 changelog says 5 x 10 / 25; the
sandbox enforces the smallest recent one (5 x 6 / 18) so the connector is built for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connector.sandbox import catalog
from connector.sandbox.errors import validation
from connector.sandbox.portal import ContactVersion, Portal
from connector.sandbox.search_index import INF, SearchIndex
from connector.sandbox.values import parse_number, parse_time_ms

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_PAGE, MAX_RESULTS = 200, 10_000

Predicate = Callable[[ContactVersion], bool]
# Properties kept outside the property strings for speed
_FAST = {"hs_object_id": lambda c: c.id, "lastmodifieddate": lambda c: c.updated_ms,
         "createdate": lambda c: c.created_ms}


class SearchCache:
    """The sorted, filtered ids of recent queries, valid while the search view is unchanged."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self.entries: dict[str, tuple[int, list[ContactVersion]]] = {}

    def get(self, key: str, version: int) -> list[ContactVersion] | None:
        """The cached result for this query at this view version."""
        hit = self.entries.get(key)
        return hit[1] if hit is not None and hit[0] == version else None

    def put(self, key: str, version: int, result: list[ContactVersion]) -> None:
        """Remember a result, dropping the oldest entry when full."""
        if len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (version, result)


def run_search(body: Mapping[str, Any], view: tuple[int, list[ContactVersion]] | Portal,
               definitions: Mapping[str, Mapping[str, Any]], cache: SearchCache
               ) -> dict[str, Any]:
    """The JSON answer to one search request, or a 400 HubSpotError.

    `view` is a portal (keyset queries on id or lastmodifieddate are answered from its sorted
    index) or (version, contacts) as the search index sees them.
    """
    limit = _int(body.get("limit", 10), "limit")
    after = _int(body.get("after") or 0, "after")
    if limit < 1 or limit > MAX_PAGE:
        raise validation(f"limit must be between 1 and {MAX_PAGE}")
    if after + 1 > MAX_RESULTS:
        # CRM search guide: "paging past 10,000 results ... will result in a 400 error"
        raise validation(f"The search endpoints are limited to {MAX_RESULTS} total results "
                         "for any given query; page with a narrower filter instead.")
    groups = body.get("filterGroups") or []
    sorts = body.get("sorts") or []
    _check_shape(groups, sorts)
    names = body.get("properties") or None
    if isinstance(view, Portal):
        with view.lock:
            index = view.searchable()
            found = _from_index(index, groups, sorts, body.get("query"), after, limit)
            if found is not None:
                return _answer(*found, names, after, limit)
            version, contacts = index.version, index.contacts()
    else:
        version, contacts = view
    key = json.dumps([groups, sorts, body.get("query")], sort_keys=True, default=str)
    matched = cache.get(key, version)
    if matched is None:
        matched = _filter(contacts, groups, body.get("query"), definitions)
        matched.sort(key=_sort_key(sorts, definitions), reverse=_descending(sorts))
        cache.put(key, version, matched)
    return _answer(len(matched), matched[after:after + limit], names, after, limit)


def _answer(total: int, page: Sequence[ContactVersion], names: Sequence[str] | None,
            after: int, limit: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"total": total, "results": [c.to_json(names) for c in page]}
    if after + limit < total:
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return answer


ID, MODIFIED = "hs_object_id", "lastmodifieddate"
RANGE_OPERATORS = ("EQ", "GT", "GTE")


def _from_index(index: SearchIndex, groups: Sequence[Mapping[str, Any]], sorts: Sequence[Any],
                query: Any, after: int, limit: int
                ) -> tuple[int, list[ContactVersion]] | None:
    """(total, page) for a keyset query the sorted index answers; None for any other query.

    Answers what the general path would: ascending id, or ascending (lastmodifieddate, id),
    over one filter group of EQ/GT/GTE on those two properties.
    """
    sort = _ascending_sort(sorts)
    filled = [g for g in groups if g.get("filters")]
    if query or sort is None or len(filled) > 1:
        return None
    bounds: dict[str, tuple[str, float]] = {}
    for spec in filled[0]["filters"] if filled else []:
        name, operator = spec.get("propertyName"), spec.get("operator")
        if name not in (ID, MODIFIED) or operator not in RANGE_OPERATORS or name in bounds:
            return None
        value = (parse_number if name == ID else parse_time_ms)(str(spec.get("value", "")))
        if value is None:
            return None
        bounds[name] = (operator, value)
    if MODIFIED in bounds and (ID in bounds or sort == MODIFIED):
        return _by_modified(index, bounds, sort, after, limit)
    if MODIFIED not in bounds and sort == ID:
        start, end = _id_positions(index, bounds.get(ID))
        return end - start, list(index.ids_at(start + after, min(start + after + limit, end)))
    if not bounds and sort == MODIFIED:
        start, end = index.modified_range((-INF, -INF), (INF, INF))
        return end - start, list(index.modified_at(start + after, min(start + after + limit, end)))
    return None


def _by_modified(index: SearchIndex, bounds: Mapping[str, tuple[str, float]], sort: str,
                 after: int, limit: int) -> tuple[int, list[ContactVersion]] | None:
    operator, moment = bounds[MODIFIED]
    if ID in bounds:
        # ids order a single timestamp in either sort: only `EQ t` keeps that true
        if operator != "EQ":
            return None
        id_operator, last_id = bounds[ID]
        if id_operator == "EQ":
            return None
        first_id = math.floor(last_id) + 1 if id_operator == "GT" else math.ceil(last_id)
        low: tuple[float, float] = (moment, first_id)
    else:
        low = (moment, INF) if operator == "GT" else (moment, -INF)
    high = (moment, INF) if operator == "EQ" else (INF, INF)
    start, end = index.modified_range(low, high)
    return end - start, list(index.modified_at(start + after, min(start + after + limit, end)))


def _id_positions(index: SearchIndex, bound: tuple[str, float] | None) -> tuple[int, int]:
    if bound is None:
        return index.id_range(-INF, True)
    operator, value = bound
    if operator == "EQ":
        return index.id_range(value, True, value, True)
    return index.id_range(value, operator == "GTE")


def _ascending_sort(sorts: Sequence[Any]) -> str | None:
    """The property of an ascending sort on id or lastmodifieddate (none sorts by id)."""
    if not sorts:
        return ID
    first = sorts[0]
    if isinstance(first, str):
        name, ascending = first, not first.startswith("-")
    elif isinstance(first, Mapping):
        name = str(first.get("propertyName") or "")
        ascending = str(first.get("direction", "ASCENDING")).upper() != "DESCENDING"
    else:
        return None
    return name if ascending and name in (ID, MODIFIED) else None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise validation(f"{name} must be a whole number, got {value!r}") from None


def _check_shape(groups: Sequence[Any], sorts: Sequence[Any]) -> None:
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)}, at most {MAX_GROUPS}")
    counts = [len(g.get("filters") or []) for g in groups]
    if any(n > MAX_FILTERS_PER_GROUP for n in counts) or sum(counts) > MAX_FILTERS:
        raise validation(f"Too many filters: at most {MAX_FILTERS_PER_GROUP} per group and "
                         f"{MAX_FILTERS} in all")
    if len(sorts) > 1:
        raise validation("Only one sort is allowed")


def _filter(contacts: list[ContactVersion], groups: Sequence[Mapping[str, Any]],
            query: str | None, definitions: Mapping[str, Mapping[str, Any]]
            ) -> list[ContactVersion]:
    compiled = [[_compile(f, definitions) for f in g.get("filters") or []] for g in groups]
    compiled = [g for g in compiled if g]
    result = contacts
    if compiled:
        result = [c for c in result if any(all(p(c) for p in group) for group in compiled)]
    if query:
        needle = str(query).lower()
        result = [c for c in result if any(
            needle in (c.properties.get(n) or "").lower() for n in catalog.QUERY_PROPERTIES)]
    return list(result)


def _kind(name: str, definitions: Mapping[str, Mapping[str, Any]]) -> str:
    type_ = definitions.get(name, {}).get("type", "string")
    if name in _FAST or type_ == "number":
        return "time" if name in ("lastmodifieddate", "createdate") else "number"
    return "time" if type_ in ("date", "datetime") else "string"


def _converter(kind: str) -> Callable[[str], Any]:
    if kind == "number":
        return parse_number
    if kind == "time":
        return parse_time_ms
    return str.lower


def _getter(name: str, kind: str) -> Callable[[ContactVersion], Any]:
    if name in _FAST:
        return _FAST[name]
    convert = _converter(kind)

    def get(c: ContactVersion) -> Any:
        raw = c.properties.get(name)
        return None if raw is None or raw == "" else convert(raw)
    return get


def _compile(spec: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]
             ) -> Predicate:
    name = spec.get("propertyName")
    operator = spec.get("operator")
    if not name or not operator:
        raise validation("Every filter needs `propertyName` and `operator`")
    kind = _kind(name, definitions)
    get = _getter(name, kind)
    convert = _converter(kind)
    if operator == "HAS_PROPERTY":
        return lambda c: get(c) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda c: get(c) is None
    if operator in ("IN", "NOT_IN"):
        wanted = {convert(str(v)) for v in spec.get("values") or []}
        if operator == "IN":
            return lambda c: get(c) in wanted
        # Docs silent on empty values for NOT_IN/NEQ; records without a value match
        return lambda c: get(c) not in wanted
    if operator == "CONTAINS_TOKEN":
        token = str(spec.get("value", "")).lower().strip("*")
        return lambda c: token in (c.properties.get(name) or "").lower()
    if operator == "BETWEEN":
        low, high = convert(str(spec.get("value"))), convert(str(spec.get("highValue")))
        return lambda c: (v := get(c)) is not None and low is not None and high is not None \
            and low <= v <= high
    target = convert(str(spec.get("value", "")))
    compare = _COMPARE.get(operator)
    if compare is None:
        raise validation(f"Unknown filter operator {operator!r}")
    if operator == "NEQ":
        return lambda c: get(c) != target
    return lambda c: (v := get(c)) is not None and target is not None and compare(v, target)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b,
    "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
}


def _descending(sorts: Sequence[Any]) -> bool:
    if not sorts:
        return False
    first = sorts[0]
    if isinstance(first, str):
        return first.startswith("-")
    return str(first.get("direction", "ASCENDING")).upper() == "DESCENDING"


def _sort_key(sorts: Sequence[Any], definitions: Mapping[str, Mapping[str, Any]]
              ) -> Callable[[ContactVersion], Any]:
    # Without a sort the docs promise no order; the sandbox uses ascending id for stable paging
    if not sorts:
        return lambda c: c.id
    first = sorts[0]
    name = first.lstrip("-") if isinstance(first, str) else first.get("propertyName")
    if not name:
        raise validation("A sort needs `propertyName`")
    kind = _kind(name, definitions)
    get = _getter(name, kind)
    descending = _descending(sorts)

    def key(c: ContactVersion) -> tuple[bool, Any, int]:
        value = get(c)
        # Records without a value come last in either direction; ties break on id
        missing = value is None
        return (missing != descending, value if not missing else 0, c.id)
    return key
