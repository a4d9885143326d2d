"""Deals in the sandbox: HubSpot's shapes over HTTP, associations, deal webhooks; and the
gateway's deal reads through the real SDK."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import requests

from connector.config import Settings
from connector.hubspot.deals import deal_contact_ids, read_deals
from connector.hubspot.gateway import build_gateway
from connector.sandbox import deals_api
from connector.sandbox.server import SandboxHandle

AUTH = {"Authorization": "Bearer sandbox-token"}


def api(handle: SandboxHandle, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, handle.url + path, headers=AUTH, timeout=5, **kwargs)


def captured(handle: SandboxHandle) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    handle.portal.event_sink = events.append
    return events


def test_create_read_and_update_a_deal_as_hubspot_answers(sandbox: SandboxHandle) -> None:
    created = api(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": {
        "dealname": "Big one", "amount": 1200.5, "dealstage": "contractsent"}})
    assert created.status_code == 201
    deal = created.json()
    props = deal["properties"]
    assert props["amount"] == "1200.5"  # values are strings
    assert props["pipeline"] == "default"
    assert props["hs_object_id"] == deal["id"]
    assert props["createdate"] == props["hs_lastmodifieddate"]
    assert props.get("closedate") is None

    moved = api(sandbox, "PATCH", f"/crm/v3/objects/deals/{deal['id']}",
                json={"properties": {"dealstage": "closedwon"}})
    assert moved.status_code == 200
    read = api(sandbox, "GET", f"/crm/v3/objects/deals/{deal['id']}",
               params={"properties": "dealstage,closedate,amount"}).json()
    assert read["properties"]["dealstage"] == "closedwon"
    assert read["properties"]["closedate"]  # stamped when the deal closed without one
    assert read["properties"]["hs_lastmodifieddate"] > props["hs_lastmodifieddate"]
    assert api(sandbox, "GET", "/crm/v3/objects/deals/424242").status_code == 404


@pytest.mark.parametrize(("values", "code"), [
    ({"dealname": "x", "dealstage": "won-ish"}, "INVALID_OPTION"),
    ({"dealname": "x", "dealstage": "closedwon", "amount": "lots"}, "INVALID_DOUBLE"),
    ({"dealname": "x", "dealstage": "closedwon", "colour": "red"}, "PROPERTY_DOESNT_EXIST"),
    ({"dealname": "x", "dealstage": "closedwon", "hs_object_id": "1"}, "READ_ONLY_VALUE"),
])
def test_bad_deal_values_are_refused_with_hubspot_errors(sandbox: SandboxHandle,
                                                         values: dict[str, str],
                                                         code: str) -> None:
    answer = api(sandbox, "POST", "/crm/v3/objects/deals", json={"properties": values})
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == code


def test_associations_both_ways_and_batch_reads(sandbox: SandboxHandle) -> None:
    deal = api(sandbox, "POST", "/crm/v3/objects/deals", json={
        "properties": {"dealname": "A", "dealstage": "qualifiedtobuy"},
        "associations": [{"to": {"id": "1"}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]}).json()
    put = api(sandbox, "PUT", f"/crm/v4/objects/deals/{deal['id']}/associations/default/"
              "contacts/2")
    assert put.status_code == 200
    assert put.json()["results"][0]["associationSpec"]["associationTypeId"] == 3
    assert api(sandbox, "PUT", "/crm/v4/objects/contacts/3/associations/default/deals/"
               f"{deal['id']}").status_code == 200
    lonely = api(sandbox, "POST", "/crm/v3/objects/deals",
                 json={"properties": {"dealname": "B", "dealstage": "closedlost"}}).json()

    answer = api(sandbox, "POST", "/crm/v4/associations/deals/contacts/batch/read",
                 json={"inputs": [{"id": deal["id"]}, {"id": lonely["id"]}]})
    assert answer.status_code == 207  # the deal without contacts is an error entry
    body = answer.json()
    (result,) = body["results"]
    assert result["from"] == {"id": deal["id"]}
    assert [t["toObjectId"] for t in result["to"]] == [1, 2, 3]
    assert "paging" not in result
    assert body["numErrors"] == 1
    back = api(sandbox, "POST", "/crm/v4/associations/contacts/deals/batch/read",
               json={"inputs": [{"id": "2"}]}).json()
    assert [t["toObjectId"] for t in back["results"][0]["to"]] == [int(deal["id"])]
    assert api(sandbox, "PUT", f"/crm/v4/objects/deals/{deal['id']}/associations/default/"
               "contacts/99999").status_code == 404

    batch = api(sandbox, "POST", "/crm/v3/objects/deals/batch/read", json={
        "inputs": [{"id": deal["id"]}, {"id": "123"}], "properties": ["dealstage"]})
    assert batch.status_code == 207
    assert [r["id"] for r in batch.json()["results"]] == [deal["id"]]


def test_long_association_lists_are_paged(sandbox: SandboxHandle,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deals_api, "ASSOCIATION_PAGE", 2)
    ids = requests.post(sandbox.url + "/_sandbox/deals", timeout=5, json={"deals": [
        {"properties": {"dealname": "A", "dealstage": "closedwon"},
         "contacts": [1, 2, 3, 4, 5]}]}).json()["ids"]
    first = api(sandbox, "POST", "/crm/v4/associations/deals/contacts/batch/read",
                json={"inputs": [{"id": ids[0]}]}).json()["results"][0]
    assert [t["toObjectId"] for t in first["to"]] == [1, 2]
    after = first["paging"]["next"]["after"]
    second = api(sandbox, "POST", "/crm/v4/associations/deals/contacts/batch/read",
                 json={"inputs": [{"id": ids[0], "after": after}]}).json()["results"][0]
    assert [t["toObjectId"] for t in second["to"]] == [3, 4]


def test_deal_webhooks_creation_and_stage_and_amount_changes(sandbox: SandboxHandle) -> None:
    events = captured(sandbox)
    ids = requests.post(sandbox.url + "/_sandbox/deals", timeout=5, json={"deals": [
        {"properties": {"dealname": "A", "amount": "10", "dealstage": "contractsent"},
         "contacts": [1]}]}).json()["ids"]
    requests.post(f"{sandbox.url}/_sandbox/deals/{ids[0]}/properties", timeout=5,
                  json={"dealstage": "closedwon", "amount": "12", "dealname": "A2"})
    requests.post(f"{sandbox.url}/_sandbox/deals/{ids[0]}/properties", timeout=5,
                  json={"dealstage": "closedwon"})  # no change: no event
    kinds = [(e["subscriptionType"], e.get("propertyName"), e.get("propertyValue"))
             for e in events]
    assert kinds == [("deal.creation", None, None),
                     ("deal.propertyChange", "dealstage", "closedwon"),
                     ("deal.propertyChange", "amount", "12")]
    assert all(e["objectId"] == int(ids[0]) and e["changeSource"] == "CRM_UI" for e in events)
    assert len({e["eventId"] for e in events}) == 3
    assert len({e["subscriptionId"] for e in events}) == 3


def test_gateway_reads_deals_and_their_contacts(sandbox: SandboxHandle,
                                                settings: Settings) -> None:
    ids = requests.post(sandbox.url + "/_sandbox/deals", timeout=5, json={"deals": [
        {"properties": {"dealname": "A", "amount": "99.5", "dealstage": "closedwon"},
         "contacts": [4, 2]},
        {"properties": {"dealname": "B", "dealstage": "closedlost"}}]}).json()["ids"]
    gateway = build_gateway(dataclasses.replace(settings, hubspot_base_url=sandbox.url,
                                                hubspot_access_token="sandbox-token"))
    deals = read_deals(gateway, [*ids, "31337"])
    assert [(d.id, d.properties["amount"], d.properties["dealstage"]) for d in deals] == [
        (ids[0], "99.5", "closedwon"), (ids[1], None, "closedlost")]
    assert deal_contact_ids(gateway, [*ids, "31337"]) == {ids[0]: ["2", "4"], ids[1]: [],
                                                          "31337": []}
    calls = gateway.usage()
    assert calls["total"] == 2
