"""Retry policy: scripted answer sequences through requests (`responses`) and the policy alone."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import responses
from hubspot.crm.contacts import ApiException

from connector.config import Settings
from connector.hubspot.client import HubSpotApis
from connector.hubspot.gateway import HubSpotGateway
from connector.hubspot.limiter import MemoryLimiter, budgets_from_settings
from connector.hubspot.retry import (
    DailyLimitReached,
    RetryPolicy,
    TokenRejected,
    rate_limit_wait_s,
    retry_after_s,
)

BASE = "http://hubspot.test"
ENROLL = f"{BASE}/automation/v2/workflows/42/enrollments/contacts/ann%2Btest@example.com"
TEN_SECONDLY = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
                "message": "You have reached your ten_secondly_rolling limit."}
DAILY = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY",
         "message": "You have reached your daily limit."}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(settings: Settings, sleeps: list[float]) -> HubSpotGateway:
    settings = replace(settings, hubspot_base_url=BASE)
    limiter = MemoryLimiter(budgets_from_settings(settings))
    return HubSpotGateway(HubSpotApis(settings), limiter,
                          policy=RetryPolicy(max_attempts=4, sleep=sleeps.append))


@responses.activate
def test_429_twice_then_success_waits_for_the_window(gateway: HubSpotGateway,
                                                     sleeps: list[float]) -> None:
    from prometheus_client import REGISTRY

    def rate_limited_total() -> float:
        return REGISTRY.get_sample_value(
            "connector_hubspot_429_total", {"policy": "TEN_SECONDLY_ROLLING"}) or 0.0

    before = rate_limited_total()
    limited = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    responses.post(ENROLL, json=TEN_SECONDLY, status=429, headers=limited)
    responses.post(ENROLL, json=TEN_SECONDLY, status=429, headers=limited)
    responses.post(ENROLL, status=204)
    gateway.enroll("42", "ann+test@example.com")
    assert len(responses.calls) == 3
    assert sleeps == [10.0, 10.0]
    call = responses.calls[0].request
    assert call.headers["Authorization"] == "Bearer test-token"
    usage = gateway.usage()
    endpoint = "POST /automation/v2/workflows/{id}/enrollments/contacts/{email}"
    assert usage["by_endpoint"][endpoint] == {"204": 1, "429": 2}
    assert usage["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 2}
    assert rate_limited_total() - before == 2  # /metrics sees them too


@responses.activate
def test_retry_after_header_wins(gateway: HubSpotGateway, sleeps: list[float]) -> None:
    responses.post(ENROLL, json=TEN_SECONDLY, status=429, headers={"Retry-After": "3"})
    responses.post(ENROLL, status=204)
    gateway.enroll("42", "ann+test@example.com")
    assert sleeps == [3.0]


@responses.activate
def test_server_errors_back_off_then_give_up(gateway: HubSpotGateway,
                                             sleeps: list[float]) -> None:
    for _ in range(6):
        responses.post(ENROLL, json={"status": "error", "message": "unavailable"}, status=503)
    with pytest.raises(ApiException) as raised:
        gateway.enroll("42", "ann+test@example.com")
    assert raised.value.status == 503
    assert len(responses.calls) == 4  # max_attempts, then the last error
    assert len(sleeps) == 3 and all(0 <= s <= 30 for s in sleeps)


@responses.activate
def test_client_errors_are_not_retried(gateway: HubSpotGateway, sleeps: list[float]) -> None:
    responses.post(ENROLL, json={"status": "error", "category": "VALIDATION_ERROR"}, status=400)
    with pytest.raises(ApiException) as raised:
        gateway.enroll("42", "ann+test@example.com")
    assert raised.value.status == 400
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_daily_limit_stops_with_a_clear_error(gateway: HubSpotGateway,
                                              sleeps: list[float]) -> None:
    responses.post(ENROLL, json=DAILY, status=429)
    with pytest.raises(DailyLimitReached, match="midnight in the portal's time zone"):
        gateway.enroll("42", "ann+test@example.com")
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_rejected_token_is_one_line(gateway: HubSpotGateway) -> None:
    responses.post(ENROLL, json={"status": "error", "category": "INVALID_AUTHENTICATION"},
                   status=401)
    with pytest.raises(TokenRejected) as raised:
        gateway.enroll("42", "ann+test@example.com")
    assert "\n" not in str(raised.value) and "HUBSPOT_ACCESS_TOKEN" in str(raised.value)
    assert len(responses.calls) == 1


@responses.activate
def test_connection_errors_are_retried(gateway: HubSpotGateway, sleeps: list[float]) -> None:
    import requests

    responses.post(ENROLL, body=requests.ConnectionError("refused"))
    responses.post(ENROLL, status=204)
    gateway.enroll("42", "ann+test@example.com")
    assert len(responses.calls) == 2 and len(sleeps) == 1


def test_non_idempotent_calls_never_retry_server_errors() -> None:
    attempts: list[int] = []

    def create() -> None:
        attempts.append(1)
        raise ApiException(status=502, reason="Bad Gateway")

    with pytest.raises(ApiException):
        RetryPolicy(sleep=lambda s: None).call(create, retry_server_errors=False)
    assert len(attempts) == 1


def _limited(body: dict[str, object], headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=429, reason="Too Many Requests")
    exc.body = json.dumps(body)
    exc.headers = headers or {}
    return exc


def test_search_secondly_limit_waits_about_a_second() -> None:
    exc = _limited({"status": "error", "message": "You have reached your secondly limit.",
                    "category": "RATE_LIMITS"})
    assert rate_limit_wait_s(exc) == 1.0


def test_ten_secondly_without_headers_waits_the_full_window() -> None:
    assert rate_limit_wait_s(_limited(TEN_SECONDLY)) == 10.0


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    exc = _limited(TEN_SECONDLY, {"Retry-After": "Wed, 21 Oct 2026 07:28:05 GMT"})
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_s(exc, now) == 5.0
