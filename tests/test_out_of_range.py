"""Out-of-range and malformed values are answered with a 4xx, never a 500: the dashboard, and
the sandbox where it plays HubSpot (with HubSpot's error body)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connector.runtime import Runtime
from connector.sandbox.server import SandboxConfig, create_sandbox_app
from connector.web.app import create_app

TOKEN = "dashboard-token"  # the `settings` fixture's
HUGE = "99999999999999999999999"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def dashboard(program_sqlite, settings):
    return create_app(runtime=Runtime(settings, engine=program_sqlite.engine)).test_client()


@pytest.mark.parametrize("query", ["until=9999-12-31", "until=10000-01-01", "since=2026-13-01",
                                   "since=2026-03-01&until=2026-01-01", "since=２０２６-01-01"])
def test_an_out_of_range_period_is_400(dashboard, query: str) -> None:
    response = dashboard.get(f"/dashboard/data.json?{query}", headers=BEARER)
    assert response.status_code == 400, response.text
    assert "error" in response.get_json()
    page = dashboard.get(f"/dashboard?{query}", headers=BEARER)
    assert page.status_code == 400


@pytest.mark.parametrize("query", ["since=1970-01-01&until=9998-12-31", "since=9999-12-31",
                                   "until=0001-01-01", "since=2026-01-01&until=2026-01-01"])
def test_far_but_real_dates_still_answer(dashboard, query: str) -> None:
    response = dashboard.get(f"/dashboard/data.json?{query}", headers=BEARER)
    assert response.status_code == 200


@pytest.mark.parametrize("path", [f"/dashboard/rewards/{HUGE}/approve",
                                  f"/dashboard/rewards/{HUGE}/reject",
                                  f"/dashboard/rewards/{HUGE}/paid",
                                  f"/dashboard/events/{HUGE}/replay",
                                  "/dashboard/rewards/9223372036854775808/approve"])
def test_huge_ids_on_the_actions_are_4xx(dashboard, path: str) -> None:
    response = dashboard.post(path, headers=BEARER, data={"reason": "x", "reference": "y"})
    assert 400 <= response.status_code < 500


def test_the_largest_id_the_database_holds_is_an_ordinary_unknown_one(dashboard) -> None:
    response = dashboard.post("/dashboard/rewards/9223372036854775807/approve", headers=BEARER)
    assert response.status_code == 409  # unknown reward, like any other


@pytest.mark.parametrize("field", ["reason", "reference"])
def test_a_nul_in_a_free_text_field_is_refused(dashboard, field: str) -> None:
    path = "/dashboard/rewards/3/reject" if field == "reason" else "/dashboard/rewards/3/paid"
    response = dashboard.post(path, headers=BEARER, data={field: "by hand\x00"})
    assert response.status_code == 400


# -- the sandbox, as HubSpot -------------------------------------------------------------------

HUBSPOT_ERROR = {"status", "message", "correlationId", "category"}


@pytest.fixture
def hubspot():
    app = create_sandbox_app(SandboxConfig(contacts=20, rate_limit_per_10s=100_000,
                                           search_rate_per_s=10_000, daily_limit=10_000_000))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer sandbox-token"
    return client


def assert_hubspot_error(response: Any, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert set(body) >= HUBSPOT_ERROR and body["status"] == "error", body
    assert re.fullmatch(r"[0-9a-f-]{36}", body["correlationId"])


@pytest.mark.parametrize("ident", ["²", "１２３", "1\n", HUGE, "-1", ""])
def test_batch_read_with_an_id_no_contact_has_is_a_207_not_found(hubspot, ident: str) -> None:
    response = hubspot.post("/crm/v3/objects/contacts/batch/read",
                            json={"inputs": [{"id": ident}, {"id": "1"}], "properties": []})
    assert response.status_code == 207
    body = response.get_json()
    assert [r["id"] for r in body["results"]] == ["1"]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == [ident]


@pytest.mark.parametrize("query", ["after=abc", "after=²", f"after={HUGE}x", "limit=ten",
                                   "limit=", "after=-5", "after=1.5"])
def test_a_malformed_paging_cursor_is_hubspots_400(hubspot, query: str) -> None:
    assert_hubspot_error(hubspot.get(f"/crm/v3/objects/contacts?{query}"))


def test_a_well_formed_cursor_still_pages(hubspot) -> None:
    first = hubspot.get("/crm/v3/objects/contacts?limit=5").get_json()
    after = first["paging"]["next"]["after"]
    second = hubspot.get(f"/crm/v3/objects/contacts?limit=5&after={after}").get_json()
    assert int(second["results"][0]["id"]) > int(after)
    huge = hubspot.get(f"/crm/v3/objects/contacts?after={HUGE}")
    assert huge.status_code == 200 and huge.get_json()["results"] == []


@pytest.mark.parametrize("properties", [["email"], "email=a@b.c", 7, True])
def test_a_create_whose_properties_is_not_an_object_is_hubspots_400(hubspot,
                                                                    properties: Any) -> None:
    assert_hubspot_error(hubspot.post("/crm/v3/objects/contacts",
                                      json={"properties": properties}))
    assert_hubspot_error(hubspot.patch("/crm/v3/objects/contacts/1",
                                       json={"properties": properties}))
    assert_hubspot_error(hubspot.post("/crm/v3/objects/contacts/batch/create",
                                      json={"inputs": [{"properties": properties}]}))
    assert_hubspot_error(hubspot.post("/crm/v3/objects/contacts/batch/update",
                                      json={"inputs": [{"id": "1", "properties": properties}]}))


@pytest.mark.parametrize("path", ["/crm/v3/objects/contacts/batch/read",
                                  "/crm/v3/objects/contacts/batch/update",
                                  "/crm/v3/objects/contacts/batch/create",
                                  "/crm/v3/objects/contacts/batch/archive"])
def test_batch_inputs_that_are_not_objects_are_hubspots_400(hubspot, path: str) -> None:
    assert_hubspot_error(hubspot.post(path, json={"inputs": ["1", 2, None]}))


@pytest.mark.parametrize("path", ["/crm/v3/objects/contacts/batch/read", "/_sandbox/contacts",
                                  "/crm/v3/objects/contacts/search"])
def test_a_body_nested_100000_deep_is_hubspots_400(hubspot, path: str) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert_hubspot_error(hubspot.post(path, data=body, content_type="application/json"))
