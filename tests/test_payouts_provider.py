"""The Tremendous client: over real HTTP against the sandbox's provider, and unit tests.

The sandbox serves Tremendous' orders API at `<sandbox>/api/v2` with its idempotency on
`external_id` and injected faults; the exactly-once property checked here is the provider's
side of it: whatever the client lives through, one key never makes two orders.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from connector.errors import UserError
from connector.payouts import exactjson
from connector.payouts.tremendous import (
    DEFAULT_BASE_URL,
    PRODUCTION_BASE_URL,
    CredentialsMissing,
    CredentialsRejected,
    Order,
    OrderConflict,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    RetryPolicy,
    TremendousClient,
)
from connector.sandbox.payouts import SANDBOX_API_KEY
from connector.sandbox.server import SandboxHandle

PRODUCT = "OKMHM2X2OHYV"
EMAIL = "ann.advocate@example.com"
FAST = RetryPolicy(attempts=4, initial_wait_s=0.01, max_wait_s=0.05)


@pytest.fixture
def provider(make_sandbox: Callable[..., SandboxHandle]) -> str:
    """The base URL of a running sandbox (its provider API lives under /api/v2)."""
    return make_sandbox(contacts=1).url


def client(url: str, *, attempts: int = 4, read_timeout: float = 5.0,
           key: str = SANDBOX_API_KEY) -> TremendousClient:
    return TremendousClient(key, base_url=f"{url}/api/v2", products=[PRODUCT],
                            timeout=(2.0, read_timeout),
                            retry=RetryPolicy(attempts=attempts, initial_wait_s=0.01,
                                              max_wait_s=0.05))


def place(tremendous: TremendousClient, key: str = "reward-1-advocate",
          amount: str = "50.00", **overrides: Any) -> Order:
    arguments: dict[str, Any] = {"idempotency_key": key, "amount": Decimal(amount),
                                 "currency": "USD", "recipient_name": "Ann Advocate",
                                 "recipient_email": EMAIL}
    return tremendous.place_order(**{**arguments, **overrides})


def control(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{url}/_sandbox/payouts/{path}", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def orders(url: str) -> list[dict[str, Any]]:
    """Every order the sandbox provider holds, amounts as Decimals."""
    text = requests.get(f"{url}/_sandbox/payouts/orders", timeout=5).text
    return exactjson.loads(text)["orders"]  # type: ignore[no-any-return]


def stats(url: str) -> dict[str, int]:
    return requests.get(f"{url}/_sandbox/payouts/stats", timeout=5).json()  # type: ignore[no-any-return]


# -- over HTTP against the sandbox -------------------------------------------------------


def test_an_order_is_placed_with_the_documented_shape(provider: str) -> None:
    order = place(client(provider))
    assert order.status == "EXECUTED" and order.external_id == "reward-1-advocate"
    assert order.amount == Decimal("50.00") and order.currency == "USD"
    [held] = orders(provider)
    assert held["id"] == order.id and held["external_id"] == "reward-1-advocate"
    [reward] = held["rewards"]
    assert reward["id"] == order.reward_ids[0] and reward["order_id"] == order.id
    assert reward["value"] == {"denomination": Decimal("50.00"), "currency_code": "USD"}
    assert reward["recipient"] == {"name": "Ann Advocate", "email": EMAIL}
    assert reward["delivery"]["method"] == "EMAIL"
    assert stats(provider)["POST /api/v2/orders 200"] == 1


def test_the_same_key_twice_gives_one_order(provider: str) -> None:
    tremendous = client(provider)
    first = place(tremendous)
    again = place(tremendous, amount="50")  # the same amount, written otherwise
    assert again == first
    assert len(orders(provider)) == 1
    counted = stats(provider)
    assert counted["POST /api/v2/orders 200"] == 1 and counted["POST /api/v2/orders 201"] == 1
    assert counted["orders_created"] == 1 and counted["orders_replayed"] == 1


def test_the_same_key_with_another_amount_is_a_conflict_not_a_second_order(
        provider: str) -> None:
    tremendous = client(provider)
    first = place(tremendous)
    with pytest.raises(OrderConflict) as caught:
        place(tremendous, amount="60.00")
    assert caught.value.status == 409 and "external_id" in caught.value.reason
    [held] = orders(provider)
    assert held["id"] == first.id
    assert held["rewards"][0]["value"]["denomination"] == Decimal("50.00")


def test_a_timeout_after_the_provider_accepted_is_resolved_by_the_same_key(
        provider: str) -> None:
    control(provider, "faults", {"timeout_after_accept": 1, "timeout_delay_s": 1.0})
    impatient = client(provider, attempts=1, read_timeout=0.3)
    with pytest.raises(ProviderUnavailable):
        place(impatient)
    # the crash: the connector never heard of the order; the next run looks it up
    found = client(provider).find_order_by_external_id("reward-1-advocate")
    [held] = orders(provider)
    assert found is not None and found.id == held["id"]
    assert found.amount == Decimal("50.00")
    # placing it again under the same key answers that order, still one
    assert place(client(provider)).id == held["id"]
    assert len(orders(provider)) == 1


def test_a_timeout_after_accept_is_retried_into_the_same_order(provider: str) -> None:
    control(provider, "faults", {"timeout_after_accept": 1, "timeout_delay_s": 1.0})
    order = place(client(provider, attempts=3, read_timeout=0.3))
    [held] = orders(provider)
    assert order.id == held["id"]
    counted = stats(provider)
    assert counted["orders_created"] == 1 and counted["orders_replayed"] == 1


def test_a_connection_dropped_after_accept_is_recovered(provider: str) -> None:
    control(provider, "faults", {"drop_after_accept": 1})
    with pytest.raises(ProviderUnavailable, match="could not reach"):
        place(client(provider, attempts=1))
    found = client(provider).find_order_by_external_id("reward-1-advocate")
    [held] = orders(provider)
    assert found is not None and found.id == held["id"]
    control(provider, "faults", {"drop_after_accept": 1})
    retried = place(client(provider, attempts=3), key="reward-2-friend")
    assert retried.external_id == "reward-2-friend"
    assert len(orders(provider)) == 2


def test_a_5xx_after_accept_is_retried_into_the_same_order(provider: str) -> None:
    control(provider, "faults", {"error_after_accept": 1, "error_status": 502})
    order = place(client(provider, attempts=2))
    [held] = orders(provider)
    assert order.id == held["id"]
    assert stats(provider)["POST /api/v2/orders 502"] == 1


def test_5xx_before_the_order_are_retried_until_it_is_placed_once(provider: str) -> None:
    control(provider, "faults", {"fail_next": 2})
    order = place(client(provider, attempts=3))
    assert [o["id"] for o in orders(provider)] == [order.id]
    counted = stats(provider)
    assert counted["POST /api/v2/orders 500"] == 2 and counted["POST /api/v2/orders 200"] == 1


def test_5xx_that_outlast_the_retries_raise_provider_unavailable(provider: str) -> None:
    control(provider, "faults", {"error_rate": 1.0, "error_status": 503})
    tremendous = client(provider, attempts=2)
    with pytest.raises(ProviderUnavailable) as caught:
        place(tremendous)
    assert caught.value.status == 503
    with pytest.raises(ProviderUnavailable):
        tremendous.find_order_by_external_id("reward-1-advocate")
    assert orders(provider) == []
    assert stats(provider)["POST /api/v2/orders 503"] == 2


def test_a_wrong_key_is_credentials_rejected(provider: str) -> None:
    wrong = client(provider, key="TEST_not-the-key")
    with pytest.raises(CredentialsRejected) as caught:
        place(wrong)
    assert caught.value.status == 401 and isinstance(caught.value, UserError)
    assert "not-the-key" not in str(caught.value)
    with pytest.raises(CredentialsRejected):
        wrong.check_credentials()
    client(provider).check_credentials()
    assert orders(provider) == []
    assert stats(provider)["POST /api/v2/orders 401"] == 1  # 401 is never retried


def test_a_bad_recipient_is_rejected_with_the_providers_reason(provider: str) -> None:
    with pytest.raises(ProviderRejected) as caught:
        place(client(provider), recipient_email="ann-at-example.com")
    assert caught.value.status == 400
    assert "reward.recipient.email" in caught.value.reason
    assert caught.value.payload == {
        "reward": {"recipient": {"email": "is not a valid email address"}}}
    assert orders(provider) == []


def test_no_funds_is_rejected_with_402(provider: str) -> None:
    control(provider, "config", {"balance": "60.00"})
    tremendous = client(provider)
    place(tremendous, key="reward-1-advocate")
    with pytest.raises(ProviderRejected) as caught:
        place(tremendous, key="reward-2-advocate")
    assert caught.value.status == 402 and "funds" in caught.value.reason
    assert len(orders(provider)) == 1


@pytest.mark.parametrize("amount", ["0.10", "19.99", "1234567.89", "12.345", "100", "25.50"])
def test_amounts_keep_their_decimals_exactly(provider: str, amount: str) -> None:
    order = place(client(provider), amount=amount)
    assert order.amount is not None and str(order.amount) == amount
    wire = requests.get(f"{provider}/api/v2/orders/{order.id}", timeout=5,
                        headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}).text
    assert f'"denomination":{amount},' in wire
    [held] = orders(provider)
    assert str(held["rewards"][0]["value"]["denomination"]) == amount


def test_workers_racing_on_one_key_make_one_order(provider: str) -> None:
    results: list[Order] = []
    errors: list[BaseException] = []

    def pay() -> None:
        try:
            results.append(place(client(provider)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [] and len({order.id for order in results}) == 1 and len(results) == 8
    assert len(orders(provider)) == 1


def test_orders_are_found_by_id_or_external_id_and_unknown_ones_are_none(provider: str
                                                                         ) -> None:
    tremendous = client(provider)
    order = place(tremendous)
    assert tremendous.get_order(order.id) == order
    assert tremendous.get_order("reward-1-advocate") == order
    assert tremendous.get_order("NOSUCHORDER1") is None
    assert tremendous.find_order_by_external_id("reward-1") is None  # exact, never a prefix


def test_the_provider_list_filters_and_pages_newest_first(provider: str) -> None:
    tremendous = client(provider)
    placed = [place(tremendous, key=f"reward-{i}") for i in range(3)]
    auth = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    page = requests.get(f"{provider}/api/v2/orders", params={"limit": 2}, headers=auth,
                        timeout=5).json()
    assert page["total_count"] == 3
    assert [o["id"] for o in page["orders"]] == [placed[2].id, placed[1].id]
    one = requests.get(f"{provider}/api/v2/orders", params={"external_id": "reward-0"},
                       headers=auth, timeout=5).json()
    assert [o["id"] for o in one["orders"]] == [placed[0].id]


def test_control_refuses_unknown_faults_and_reset_forgets_everything(provider: str) -> None:
    answer = requests.post(f"{provider}/_sandbox/payouts/faults", json={"lag": 1}, timeout=5)
    assert answer.status_code == 400
    now = control(provider, "faults", {"fail_next": 1})
    assert now["fail_next"] == 1 and now["error_status"] == 500
    control(provider, "config", {"api_key": "TEST_other"})
    control(provider, "reset", {})
    place(client(provider))  # the default key again, no fault left
    assert len(orders(provider)) == 1


def test_hubspot_paths_still_need_the_hubspot_token(provider: str) -> None:
    answer = requests.get(f"{provider}/crm/v3/objects/contacts/1",
                          headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["category"] == "INVALID_AUTHENTICATION"


# -- unit tests with `responses` ---------------------------------------------------------

BASE = "https://provider.test/api/v2"


def order_object(external_id: str = "k-1", amount: str = "50.00",
                 order_id: str = "ORDER0000001") -> str:
    """An order object as JSON text, the amount written with exactly the given digits."""
    return ('{"id":"' + order_id + '","external_id":"' + external_id + '",'
            '"status":"EXECUTED","rewards":[{"id":"REWARD000001","value":{"denomination":'
            + amount + ',"currency_code":"USD"}}]}')


def order_body(external_id: str = "k-1", amount: str = "50.00") -> str:
    return '{"order":' + order_object(external_id, amount) + "}"


def list_body(*objects: str) -> str:
    return '{"orders":[' + ",".join(objects) + '],"total_count":' + str(len(objects)) + "}"


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def unit(slept: list[float]) -> TremendousClient:
    return TremendousClient("TEST_unit-secret-key", base_url=BASE, campaign_id="CAMPAIGN0001",
                            retry=FAST, sleep=slept.append)


@responses.activate
def test_the_request_carries_the_amount_digits_the_key_and_the_bearer(
        unit: TremendousClient) -> None:
    responses.post(f"{BASE}/orders", body=order_body("k-1", "0.10"), status=200)
    order = place(unit, key="k-1", amount="0.10")
    assert order == Order("ORDER0000001", "EXECUTED", "k-1", Decimal("0.10"), "USD",
                          ("REWARD000001",))
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer TEST_unit-secret-key"
    assert isinstance(sent.body, bytes)
    assert exactjson.loads(sent.body) == {
        "external_id": "k-1", "payment": {"funding_source_id": "balance"},
        "reward": {"campaign_id": "CAMPAIGN0001",
                   "value": {"denomination": Decimal("0.10"), "currency_code": "USD"},
                   "recipient": {"name": "Ann Advocate", "email": EMAIL},
                   "delivery": {"method": "EMAIL"}}}
    assert b'"denomination":0.10,' in sent.body


@responses.activate
@pytest.mark.parametrize("status", [200, 201, 202])
def test_any_2xx_with_an_order_is_the_order(unit: TremendousClient, status: int) -> None:
    responses.post(f"{BASE}/orders", body=order_body(), status=status)
    assert place(unit, key="k-1").id == "ORDER0000001"


@responses.activate
def test_a_2xx_without_an_order_is_retried_then_unavailable(unit: TremendousClient,
                                                            slept: list[float]) -> None:
    responses.post(f"{BASE}/orders", json={}, status=202)
    with pytest.raises(ProviderUnavailable, match="without an order"):
        place(unit, key="k-1")
    assert len(responses.calls) == FAST.attempts and len(slept) == FAST.attempts - 1


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_credentials_rejected_without_retry(unit: TremendousClient,
                                                            status: int) -> None:
    responses.post(f"{BASE}/orders", json={"errors": {"message": "nope", "payload": {}}},
                   status=status)
    with pytest.raises(CredentialsRejected) as caught:
        place(unit)
    assert caught.value.status == status and len(responses.calls) == 1
    assert "unit-secret-key" not in str(caught.value)


@responses.activate
def test_a_429_waits_as_retry_after_asks(unit: TremendousClient, slept: list[float]) -> None:
    responses.post(f"{BASE}/orders", json={"error": {"message": "Too many requests",
                                                     "payload": {}}},
                   status=429, headers={"Retry-After": "2"})
    responses.post(f"{BASE}/orders", json={"error": {"message": "Too many requests",
                                                     "payload": {}}}, status=429)
    responses.post(f"{BASE}/orders", body=order_body(), status=200)
    assert place(unit, key="k-1").id == "ORDER0000001"
    assert slept[0] == 2.0 and slept[1] >= 1.0


@responses.activate
def test_connection_errors_and_garbage_are_unavailable(unit: TremendousClient,
                                                       slept: list[float]) -> None:
    responses.post(f"{BASE}/orders", body=requests.ConnectionError("refused"))
    responses.post(f"{BASE}/orders", body="<html>bad gateway</html>", status=502)
    responses.post(f"{BASE}/orders", body=requests.ReadTimeout("slow"))
    responses.post(f"{BASE}/orders", body=order_body(), status=201)
    assert place(unit, key="k-1").id == "ORDER0000001"
    assert len(slept) == 3
    bodies = {call.request.body for call in responses.calls}
    assert len(bodies) == 1  # every attempt sent the same order under the same key


@responses.activate
def test_a_rejection_names_the_fields_and_hides_emails(unit: TremendousClient) -> None:
    responses.post(f"{BASE}/orders", status=400, json={"errors": {
        "message": f"Order failed: {EMAIL} bounced",
        "payload": {"reward": {"recipient": {"email": [f"{EMAIL} is blocked"]}}}}})
    with pytest.raises(ProviderRejected) as caught:
        place(unit)
    reason = caught.value.reason
    assert reason == ("Order failed: <email> bounced "
                      "(reward.recipient.email: <email> is blocked)")
    assert EMAIL not in str(caught.value) and EMAIL not in repr(caught.value.payload)


@responses.activate
def test_find_matches_the_external_id_exactly(unit: TremendousClient) -> None:
    responses.get(f"{BASE}/orders", body=list_body(order_object("k-10"), order_object("k-1")))
    found = unit.find_order_by_external_id("k-1")
    assert found is not None and found.external_id == "k-1"
    assert responses.calls[0].request.url == f"{BASE}/orders?external_id=k-1"


@responses.activate
def test_find_refuses_to_choose_between_two_orders_of_one_key(unit: TremendousClient
                                                               ) -> None:
    responses.get(f"{BASE}/orders", body=list_body(
        order_object("k-1"), order_object("k-1", order_id="ORDER0000002")))
    with pytest.raises(ProviderError, match="2 orders"):
        unit.find_order_by_external_id("k-1")


@pytest.mark.parametrize(("overrides", "error"), [
    ({"amount": 50.0}, TypeError),
    ({"amount": 50}, TypeError),
    ({"amount": Decimal("NaN")}, ValueError),
    ({"amount": Decimal("0")}, ValueError),
    ({"amount": Decimal("-5")}, ValueError),
    ({"currency": "usd"}, ValueError),
    ({"idempotency_key": ""}, ValueError),
    ({"recipient_email": ""}, ValueError),
    ({"delivery_method": "PIGEON"}, ValueError),
])
def test_bad_arguments_fail_before_any_request(unit: TremendousClient,
                                               overrides: dict[str, Any],
                                               error: type[Exception]) -> None:
    arguments: dict[str, Any] = {"idempotency_key": "k-1", "amount": Decimal("5"),
                                 "currency": "USD", "recipient_name": "Ann",
                                 "recipient_email": EMAIL}
    with responses.RequestsMock():  # any request would fail the test
        with pytest.raises(error):
            unit.place_order(**{**arguments, **overrides})


def test_an_order_needs_a_campaign_or_products() -> None:
    bare = TremendousClient("TEST_k", base_url=BASE)
    with pytest.raises(ValueError, match="campaign_id or products"):
        place(bare)


def test_settings_come_from_the_environment() -> None:
    from connector.config import ConfigError, Settings

    settings = Settings.from_env({"TREMENDOUS_API_KEY": "TEST_abc"})
    assert settings.tremendous_api_key == "TEST_abc"
    assert settings.tremendous_base_url == DEFAULT_BASE_URL  # Tremendous' sandbox by default
    assert "TEST_abc" not in repr(settings)
    production = Settings.from_env({"TREMENDOUS_API_KEY": "PROD_abc",
                                    "TREMENDOUS_BASE_URL": PRODUCTION_BASE_URL})
    assert production.tremendous_base_url == PRODUCTION_BASE_URL
    with pytest.raises(ConfigError, match="TREMENDOUS_BASE_URL"):
        Settings.from_env({"TREMENDOUS_API_KEY": "k", "TREMENDOUS_BASE_URL": "ftp:x"})
    assert Settings.from_env({}).tremendous_api_key is None
    with pytest.raises(CredentialsMissing) as caught:
        TremendousClient("", base_url=PRODUCTION_BASE_URL)
    assert "TREMENDOUS_API_KEY" in str(caught.value) and isinstance(caught.value, UserError)
    built = TremendousClient("PROD_abc", base_url=PRODUCTION_BASE_URL)
    assert "PROD_abc" not in repr(built) and built.base_url == PRODUCTION_BASE_URL


@responses.activate
def test_logs_carry_neither_the_key_nor_the_email(unit: TremendousClient,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    responses.post(f"{BASE}/orders", status=500, json={"errors": {"message": "boom"}})
    responses.post(f"{BASE}/orders", body=order_body(), status=200)
    with caplog.at_level(logging.DEBUG, logger="connector.payouts"):
        place(unit, key="k-1")
    assert "trying again" in caplog.text and "ORDER0000001" in caplog.text
    assert "unit-secret-key" not in caplog.text and EMAIL not in caplog.text


def test_exact_json_round_trips_decimals_and_refuses_floats() -> None:
    text = exactjson.dumps({"a": Decimal("0.10"), "b": [Decimal("1E+2"), 3, None, True, "x"]})
    assert text == '{"a":0.10,"b":[100,3,null,true,"x"]}'
    assert exactjson.loads(text)["a"] == Decimal("0.10")
    with pytest.raises(TypeError):
        exactjson.dumps({"a": 0.1})
    with pytest.raises(ValueError):
        exactjson.dumps(Decimal("Infinity"))
