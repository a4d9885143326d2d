"""Search in the sandbox: filters, sort, paging, HubSpot's caps, index lag, large portals."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException

from connector.sandbox.portal import Portal
from connector.sandbox.search import SearchCache, run_search
from connector.sandbox.seed import generate_contacts
from connector.sandbox.server import SandboxHandle


def search(handle: SandboxHandle, **body: Any) -> Any:
    api = HubSpot(access_token="sandbox-token", host=handle.url).crm.contacts.search_api
    return api.do_search(PublicObjectSearchRequest(**body))


def flt(name: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    found = {"propertyName": name, "operator": operator, **extra}
    if value is not None:
        found["value"] = value
    return found


def portal_ids(handle: SandboxHandle, keep: Callable[[dict[str, str]], bool]) -> list[str]:
    return sorted((str(c.id) for c in handle.portal.live_contacts() if keep(c.properties)),
                  key=int)


def numeric(props: dict[str, str], name: str) -> float | None:
    try:
        return float(props[name])
    except (KeyError, ValueError):
        return None


def test_operators_match_the_portal(sandbox: SandboxHandle) -> None:
    cases: list[tuple[dict[str, Any], Callable[[dict[str, str]], bool]]] = [
        (flt("lifecyclestage", "EQ", "customer"),
         lambda p: p.get("lifecyclestage") == "customer"),
        (flt("lifecyclestage", "NEQ", "customer"),
         lambda p: p.get("lifecyclestage") != "customer"),
        (flt("product_logins_30d", "GT", "20"),
         lambda p: (numeric(p, "product_logins_30d") or -1) > 20),
        (flt("product_logins_30d", "LTE", "20"),
         lambda p: numeric(p, "product_logins_30d") is not None
         and numeric(p, "product_logins_30d") <= 20),  # type: ignore[operator]
        (flt("support_csat_score", "HAS_PROPERTY"), lambda p: "support_csat_score" in p),
        (flt("support_csat_score", "NOT_HAS_PROPERTY"), lambda p: "support_csat_score" not in p),
        (flt("lifecyclestage", "IN", values=["lead", "opportunity"]),
         lambda p: p.get("lifecyclestage") in ("lead", "opportunity")),
    ]
    for spec, keep in cases:
        answer = search(sandbox, filter_groups=[{"filters": [spec]}], limit=200)
        assert sorted((r.id for r in answer.results), key=int) == portal_ids(sandbox, keep), spec
        assert answer.total == len(portal_ids(sandbox, keep))


def test_groups_are_or_filters_are_and(sandbox: SandboxHandle) -> None:
    answer = search(sandbox, limit=200, filter_groups=[
        {"filters": [flt("lifecyclestage", "EQ", "customer"),
                     flt("product_logins_30d", "GTE", "30")]},
        {"filters": [flt("lifecyclestage", "EQ", "lead")]},
    ])
    expected = portal_ids(sandbox, lambda p: (
        p.get("lifecyclestage") == "customer" and (numeric(p, "product_logins_30d") or -1) >= 30
    ) or p.get("lifecyclestage") == "lead")
    assert sorted((r.id for r in answer.results), key=int) == expected


def test_sort_and_paging(sandbox: SandboxHandle) -> None:
    first = search(sandbox, limit=20, sorts=[{"propertyName": "hs_object_id",
                                              "direction": "DESCENDING"}])
    assert [r.id for r in first.results] == [str(i) for i in range(50, 30, -1)]
    assert first.total == 50 and first.paging.next.after == "20"
    rest = search(sandbox, limit=200, after="20", sorts=[{"propertyName": "hs_object_id",
                                                          "direction": "DESCENDING"}])
    assert [r.id for r in rest.results] == [str(i) for i in range(30, 0, -1)]
    assert rest.paging is None
    by_date = search(sandbox, limit=200, properties=["lastmodifieddate"],
                     sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}])
    stamps = [r.properties["lastmodifieddate"] for r in by_date.results]
    assert stamps == sorted(stamps)
    assert set(by_date.results[0].properties) >= {"hs_object_id", "lastmodifieddate"}


def test_lastmodifieddate_filter_in_epoch_ms(sandbox: SandboxHandle) -> None:
    middle = sorted(c.updated_ms for c in sandbox.portal.live_contacts())[25]
    answer = search(sandbox, limit=200, filter_groups=[
        {"filters": [flt("lastmodifieddate", "GTE", str(middle))]}])
    assert answer.total == 25


@pytest.mark.parametrize("body", [
    {"limit": 201},
    {"filter_groups": [{"filters": [flt("email", "HAS_PROPERTY")]}] * 6},
    {"filter_groups": [{"filters": [flt("email", "HAS_PROPERTY")] * 7}]},
    {"filter_groups": [{"filters": [flt("email", "HAS_PROPERTY")] * 6}] * 3 +
     [{"filters": [flt("email", "HAS_PROPERTY")]}]},
    {"sorts": [{"propertyName": "email"}, {"propertyName": "firstname"}]},
    {"filter_groups": [{"filters": [flt("email", "SOUNDS_LIKE", "x")]}]},
])
def test_shapes_hubspot_refuses_are_400(sandbox: SandboxHandle, body: dict[str, Any]) -> None:
    with pytest.raises(ApiException) as caught:
        search(sandbox, **body)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_paging_past_10000_results_is_400(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(contacts=10_050)
    near_end = search(handle, limit=200, after="9800")
    assert near_end.total == 10_050 and len(near_end.results) == 200
    assert near_end.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        search(handle, limit=200, after="10000")
    assert caught.value.status == 400


def test_edits_reach_search_after_the_index_lag(make_sandbox: Callable[..., SandboxHandle]
                                               ) -> None:
    handle = make_sandbox(search_lag_s=0.4)
    client = HubSpot(access_token="sandbox-token", host=handle.url)
    client.crm.contacts.basic_api.update("7", SimplePublicObjectInput(
        properties={"company": "Lagging Ltd"}))
    assert client.crm.contacts.basic_api.get_by_id(
        "7", properties=["company"]).properties["company"] == "Lagging Ltd"
    query = {"filter_groups": [{"filters": [flt("company", "EQ", "Lagging Ltd")]}]}
    assert search(handle, **query).total == 0
    time.sleep(0.5)
    assert [r.id for r in search(handle, **query).results] == ["7"]


def test_a_25000_contact_portal_seeds_and_searches_quickly(
        make_sandbox: Callable[..., SandboxHandle]) -> None:
    started = time.monotonic()
    handle = make_sandbox(contacts=25_000)
    assert time.monotonic() - started < 10
    since = str(sorted(c.updated_ms for c in handle.portal.live_contacts())[12_000])
    started = time.monotonic()
    after = None
    for _ in range(5):
        page = search(handle, limit=200, after=after, properties=["email"],
                      filter_groups=[{"filters": [flt("lastmodifieddate", "GTE", since)]}],
                      sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}])
        after = page.paging.next.after
    assert page.total == 13_000
    assert time.monotonic() - started < 3


def keyset_portal() -> Portal:
    """300 contacts, many sharing a lastmodifieddate, then a few edits and removals."""
    portal = Portal()
    rows = list(generate_contacts(300, seed=3))
    for i, row in enumerate(rows):
        row["lastmodifieddate"] = str(1_700_000_000_000 + (i % 7) * 1000)  # 7 timestamps
    portal.seed(rows)
    portal.update_contact(12, {"company": "Edited Ltd"})
    portal.update_contact(3, {"company": "Edited Ltd"})
    portal.archive_contact(40)
    portal.merge(5, 6)
    return portal


KEYSET_QUERIES: list[dict[str, Any]] = [
    {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]},
    {},
    {"filterGroups": [{"filters": [flt("hs_object_id", "GT", "150")]}],
     "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]},
    {"filterGroups": [{"filters": [flt("hs_object_id", "GTE", "150")]}], "sorts": ["hs_object_id"]},
    {"filterGroups": [{"filters": [flt("hs_object_id", "EQ", "40")]}]},
    {"filterGroups": [{"filters": [flt("hs_object_id", "GT", "149.5")]}]},
    {"sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]},
    *[{"filterGroups": [{"filters": [flt("lastmodifieddate", operator, moment)]}],
       "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}
      for operator in ("GT", "GTE", "EQ")
      for moment in ("1700000002000", "1700000002001", "2023-11-14T22:13:23.000Z")],
    *[{"filterGroups": [{"filters": [flt("lastmodifieddate", "EQ", "1700000003000"),
                                     flt("hs_object_id", operator, last)]}],
       "sorts": [{"propertyName": sort, "direction": "ASCENDING"}]}
      for operator in ("GT", "GTE") for last in ("0", "120", "120.5", "299", "400")
      for sort in ("hs_object_id", "lastmodifieddate")],
    # beyond the index: answered by the general path, listed to show both paths agree
    {"filterGroups": [{"filters": [flt("lastmodifieddate", "GT", "1700000003000")]}],
     "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]},
    {"filterGroups": [{"filters": [flt("hs_object_id", "GT", "abc")]}]},
    {"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]},
]


@pytest.mark.parametrize("query", KEYSET_QUERIES, ids=lambda q: json.dumps(q)[:90])
def test_the_sorted_index_answers_as_the_full_scan_does(query: dict[str, Any]) -> None:
    portal = keyset_portal()
    definitions = dict(portal.properties)
    for after, limit in ((0, 200), (0, 7), (35, 10), (290, 200)):
        body = {**query, "after": str(after), "limit": limit, "properties": ["email"]}
        indexed = run_search(body, portal, definitions, SearchCache())
        scanned = run_search(body, portal.search_view(), definitions, SearchCache())
        assert indexed == scanned


def test_the_index_follows_writes_and_the_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    portal = keyset_portal()
    portal.options.search_lag_s = 5.0
    body = {"filterGroups": [{"filters": [flt("lastmodifieddate", "GT", "1700000006000")]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}
    before = run_search(body, portal, dict(portal.properties), SearchCache())
    assert {r["id"] for r in before["results"]} == {"12", "3", "5"}  # the edits
    portal.update_contact(200, {"company": "Later Ltd"})
    portal.gdpr_delete(12)
    unchanged = run_search(body, portal, dict(portal.properties), SearchCache())
    assert unchanged == before  # not searchable yet
    clock[0] += 5.0
    after = run_search(body, portal, dict(portal.properties), SearchCache())
    assert {r["id"] for r in after["results"]} == {"3", "5", "200"}
    assert after["results"][-1]["id"] == "200"  # the newest edit comes last


def test_a_keyset_walk_costs_milliseconds_per_page(make_sandbox: Callable[..., SandboxHandle]
                                             ) -> None:
    handle = make_sandbox(contacts=30_000)
    portal = handle.portal
    definitions = dict(portal.properties)
    started = time.monotonic()
    last = 0
    for _ in range(50):
        page = run_search({"filterGroups": [{"filters": [flt("hs_object_id", "GT", last)]}],
                           "sorts": ["hs_object_id"], "limit": 200}, portal, definitions,
                          SearchCache())
        last = int(page["results"][-1]["id"])
    assert last == 10_000
    # a full scan and sort of 30,000 contacts takes ~100 ms a page; the index a few ms
    assert time.monotonic() - started < 1.0
