"""HubSpot's limits in the sandbox: burst window, daily budget, search rate, injected faults."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException

from connector.sandbox.server import SandboxHandle

AUTH = {"Authorization": "Bearer sandbox-token"}
RATE_HEADERS = ["X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
                "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Daily",
                "X-HubSpot-RateLimit-Daily-Remaining"]


def get(handle: SandboxHandle) -> requests.Response:
    return requests.get(f"{handle.url}/crm/v3/objects/contacts/1", headers=AUTH, timeout=5)


def search(handle: SandboxHandle) -> requests.Response:
    return requests.post(f"{handle.url}/crm/v3/objects/contacts/search", headers=AUTH,
                         json={"limit": 1}, timeout=5)


def test_burst_window_answers_429_with_hubspot_body_and_headers(
        make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(rate_limit_per_10s=5)
    answers = [get(handle) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers[:5]] == [
        "4", "3", "2", "1", "0"]
    for answer in answers:
        assert all(name in answer.headers for name in RATE_HEADERS)
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "5"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = answers[-1].json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"] and body["groupName"]
    with pytest.raises(ApiException) as caught:
        HubSpot(access_token="sandbox-token", host=handle.url).crm.contacts.basic_api.get_by_id(
            "1")
    assert caught.value.status == 429


def test_daily_budget_answers_429_daily(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(daily_limit=2)
    answers = [get(handle) for _ in range(3)]
    assert answers[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert answers[2].status_code == 429 and answers[2].json()["policyName"] == "DAILY"


def test_search_has_its_own_rate_and_no_headers(make_sandbox: Callable[..., SandboxHandle]
                                                ) -> None:
    handle = make_sandbox(rate_limit_per_10s=3, search_rate_per_s=2)
    answers = [search(handle) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["message"] == "You have reached your secondly limit."
    assert answers[2].json()["errorType"] == "RATE_LIMIT"
    for answer in answers:
        assert not any(name in answer.headers for name in RATE_HEADERS)
    # Searches drew nothing from the burst window
    assert get(handle).headers["X-HubSpot-RateLimit-Remaining"] == "2"
    time.sleep(1.05)
    assert search(handle).status_code == 200


def test_refused_requests_do_not_count(make_sandbox: Callable[..., SandboxHandle]) -> None:
    handle = make_sandbox(rate_limit_per_10s=2)
    assert [get(handle).status_code for _ in range(5)] == [200, 200, 429, 429, 429]
    stats = requests.get(f"{handle.url}/_sandbox/stats", timeout=5).json()
    assert stats["status"] == {"200": 2, "429": 3}


def test_injected_faults(sandbox: SandboxHandle) -> None:
    control = f"{sandbox.url}/_sandbox/faults"
    requests.post(control, json={"rate_limit_burst": 2}, timeout=5)
    assert [get(sandbox).status_code for _ in range(3)] == [429, 429, 200]
    requests.post(control, json={"error_rate": 1.0}, timeout=5)
    failed = get(sandbox)
    assert failed.status_code == 503 and failed.json()["status"] == "error"
    requests.post(control, json={"error_rate": 0, "latency_ms": 150}, timeout=5)
    started = time.monotonic()
    assert get(sandbox).status_code == 200
    assert time.monotonic() - started >= 0.15
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5)
    started = time.monotonic()
    assert get(sandbox).status_code == 200
    assert time.monotonic() - started < 0.15
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"] == {"GET /crm/v3/objects/contacts/<contact_id>": 1}


def test_error_rate_is_a_share(sandbox: SandboxHandle) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"error_rate": 0.5}, timeout=5)
    codes = [get(sandbox).status_code for _ in range(60)]
    assert 10 < codes.count(503) < 50 and codes.count(200) == 60 - codes.count(503)
