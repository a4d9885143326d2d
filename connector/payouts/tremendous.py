"""Tremendous (gift cards, PayPal, bank, charity): the small client the payout job calls.

Why Tremendous: its API reference states the idempotency guarantee of an order's
`external_id` outright, and lets an order be found again by that id. Create order,
https://developers.tremendous.com/reference/core-orders-create (field `external_id`):

    "When set, external_id makes order idempotent. All requests that use the same external_id
    after the initial order creation, will result in a response that returns the data of the
    initially created order. The response will have a 201 response code. These responses
    fail to create any further orders.
    It also allows for retrieving by external_id instead of id only."

and the same operation's description ("Idempotence"), as published in Tremendous's OpenAPI
spec (the docstring of `create_order` in their official SDK, tremendous-rewards/tremendous-python):

    "Requests issued with the same `external_id` are idempotent. Submitting an order with an
    already existing `external_id` will not create a new order. If the payload is the same as
    a previously issued order, our API will return a `201` response code, along with a
    representation of the already-existing order in the response body. If the `external_id`
    used is for an order with different parameters (e.g. amount, recipient), our API will
    return a `409` response code, indicating a conflicting resource."

So every order carries an `external_id` derived from the ledger row (the caller's
`idempotency_key`), which makes a retried POST safe: this client retries 5xx, 429, timeouts
and dropped connections with the same body, and a crash after the provider accepted an order
is resolved by `find_order_by_external_id` (GET /orders?external_id=, documented: "Only
return results with a matching external_id"), never by a second order.

Where the docs are silent or disagree (this client's answer in brackets):
- For how long an `external_id` stays idempotent: no window is stated (Tango Card, by
  contrast, makes "no claim of idempotency support after 90 days") [the payout job should
  look an order up before re-placing an old one; this client does not expire keys].
- Concurrent duplicates: what a second POST with the same `external_id` gets while the first
  is still being processed [a 409 is treated as `OrderConflict`; look the order up].
- Status codes: the create-order reference says a new order answers 200 and a repeat 201;
  the error-handling page (https://developers.tremendous.com/reference/error-handling) says
  201 is "new resource created", 200 "no new resource created", 202 "will be created
  asynchronously" [any 2xx with an order in the body is the order; a 2xx without one is
  treated as unavailable and retried, which the idempotency makes safe].
- Whether a 5xx answer to a create can still have created the order [assumed possible: the
  retry with the same `external_id` or `find_order_by_external_id` resolves it].
- The length and characters allowed in `external_id` [not checked here].
- Rate limits: one page says 10 requests per second and "pause ... for 1 second", another
  60 requests per 30 seconds and "pause ... for about 30 seconds"
  (https://developers.tremendous.com/docs/rate-limiting,
  https://developers.tremendous.com/reference/rate-limiting); neither names a Retry-After
  header [429 is retried after Retry-After when sent, else at least 1 s, backing off].
- 403: not listed among the status codes [treated like 401, as a rejected credential].

Amounts: `value.denomination` is documented as "number (double)"; the request carries the
Decimal's own digits as a JSON number (`50.00`), never a float, and answers are read back
with Decimals.

Base URLs (https://developers.tremendous.com/docs/sandbox-environment): sandbox
`https://testflight.tremendous.com/api/v2` (keys prefixed `TEST_`), production
`https://api.tremendous.com/api/v2` (keys prefixed `PROD_`). The default is the sandbox, so
a deployment pays real money only when TREMENDOUS_BASE_URL says so. Authentication is
`Authorization: Bearer <key>` (https://developers.tremendous.com/reference/authentication).
The key is never logged, never part of an exception message or a repr.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from connector.errors import UserError
from connector.payouts import exactjson

log = logging.getLogger(__name__)
T = TypeVar("T")

ENV_API_KEY = "TREMENDOUS_API_KEY"
ENV_BASE_URL = "TREMENDOUS_BASE_URL"
SANDBOX_BASE_URL = "https://testflight.tremendous.com/api/v2"
PRODUCTION_BASE_URL = "https://api.tremendous.com/api/v2"
DEFAULT_BASE_URL = SANDBOX_BASE_URL
# "Use `balance` to use your Tremendous's balance." (create order, payment.funding_source_id)
BALANCE = "balance"
DELIVERY_METHODS = ("EMAIL", "LINK", "PHONE")
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
RATE_LIMIT_MIN_WAIT_S = 1.0
RATE_LIMIT_MAX_WAIT_S = 60.0  # a Retry-After beyond this is cut short: the job runs again
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"[^\s@<>\"',;:]+@[^\s@<>\"',;:]+")


class ProviderError(Exception):
    """The gift-card provider did not place or find the order; `status` is its HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderRejected(ProviderError):
    """A 4xx: the provider refused the request (bad recipient, no funds...); `reason` says why.

    Retrying the same request will not help; `status` tells 402 (funds) from 400/422
    (the request) apart, `payload` is the provider's per-field detail (emails redacted).
    """

    def __init__(self, reason: str, *, status: int, payload: Mapping[str, Any] | None = None
                 ) -> None:
        super().__init__(f"Tremendous refused the order ({status}): {reason}", status=status)
        self.reason = reason
        self.payload: Mapping[str, Any] = payload or {}


class OrderConflict(ProviderRejected):
    """409: an order with this external_id exists with other parameters (amount, recipient).

    The money may already be on its way: find the existing order by its external_id rather
    than placing one under a new key.
    """


class ProviderUnavailable(ProviderError):
    """A 5xx, a 429, a timeout or a dropped connection: try again later with the same key.

    `retry_after`: the seconds a 429's Retry-After header asked for, when it sent one.
    """

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CredentialsRejected(ProviderError, UserError):
    """401/403: the provider refused the API key (wrong, revoked, or the other environment)."""


class CredentialsMissing(CredentialsRejected):
    """No API key in the environment."""


@dataclass(frozen=True)
class Order:
    """An order as the provider answered it: its id, status and our external_id.

    `amount` and `currency` are those of its (single) reward, `reward_ids` the rewards'
    ids; `status` is the provider's word (EXECUTED, PENDING APPROVAL, FAILED, CANCELED...).
    """

    id: str
    status: str
    external_id: str | None
    amount: Decimal | None = None
    currency: str | None = None
    reward_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    """How often a call that found the provider unavailable is tried, and the waits between."""

    attempts: int = 4
    initial_wait_s: float = 0.5
    max_wait_s: float = 8.0


class TremendousClient:
    """Places and finds Tremendous orders over `requests`; one instance per payout job."""

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL,
                 funding_source_id: str = BALANCE, campaign_id: str | None = None,
                 products: Sequence[str] = (), timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 retry: RetryPolicy | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if not api_key:
            raise CredentialsMissing(f"no Tremendous API key: set {ENV_API_KEY}")
        self.base_url = base_url.rstrip("/")
        self.funding_source_id = funding_source_id
        self.campaign_id = campaign_id
        self.products = tuple(products)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._headers = {"Authorization": f"Bearer {api_key}",
                         "Accept": "application/json",
                         "Content-Type": "application/json",
                         "User-Agent": "advocate-connector"}
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"TremendousClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self._session.close()

    # -- the calls -------------------------------------------------------------------------

    def place_order(self, *, idempotency_key: str, amount: Decimal, currency: str,
                    recipient_name: str, recipient_email: str,
                    campaign_id: str | None = None, products: Sequence[str] | None = None,
                    delivery_method: str = "EMAIL", funding_source_id: str | None = None,
                    ) -> Order:
        """Place one single-reward order under `idempotency_key` (Tremendous' external_id).

        The same key again answers the order it created (201), never a second one; the same
        key with another amount or recipient raises `OrderConflict`. 5xx, 429, timeouts and
        dropped connections are retried with the same key, then raise `ProviderUnavailable`.
        """
        _check_key(idempotency_key)
        if not isinstance(amount, Decimal):
            raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
        if not amount.is_finite() or amount <= 0:
            raise ValueError(f"amount must be a positive finite Decimal, not {amount}")
        if not _CURRENCY.match(currency or ""):
            raise ValueError(f"currency must be an ISO 4217 code such as USD, not {currency!r}")
        if not recipient_email or not recipient_name:
            raise ValueError("an order needs the recipient's name and email")
        if delivery_method not in DELIVERY_METHODS:
            raise ValueError(f"delivery_method must be one of {', '.join(DELIVERY_METHODS)}")
        reward: dict[str, Any] = {}
        campaign = campaign_id if campaign_id is not None else self.campaign_id
        chosen = tuple(products) if products is not None else self.products
        if campaign:
            reward["campaign_id"] = campaign
        if chosen:
            reward["products"] = list(chosen)
        if not reward:
            # "Either products or campaign_id must be specified."
            raise ValueError("an order needs a campaign_id or products (Tremendous product ids)")
        reward["value"] = {"denomination": amount, "currency_code": currency}
        reward["recipient"] = {"name": recipient_name, "email": recipient_email}
        reward["delivery"] = {"method": delivery_method}
        body = {"external_id": idempotency_key,
                "payment": {"funding_source_id": funding_source_id or self.funding_source_id},
                "reward": reward}
        order = self._call("POST", "/orders", _placed, body=exactjson.dumps(body).encode())
        log.info("tremendous order %s for %s: %s", order.id, idempotency_key, order.status)
        return order

    def find_order_by_external_id(self, key: str) -> Order | None:
        """The order placed under `key`, or None when the provider has none.

        For crash recovery: a payout that may have reached the provider is looked up here
        before anything else is done with it.
        """
        _check_key(key)
        listed = self._call("GET", "/orders", _listed, params={"external_id": key})
        # "Only return results with a matching external_id": matched again here, exactly
        found = [order for order in listed if order.external_id == key]
        if len(found) > 1:
            raise ProviderError(f"Tremendous holds {len(found)} orders under external_id "
                                f"{key}: {', '.join(o.id for o in found)}")
        return found[0] if found else None

    def get_order(self, order_id: str) -> Order | None:
        """One order by its Tremendous id (or external_id, as the docs allow); None on 404."""
        _check_key(order_id)
        try:
            return self._call("GET", f"/orders/{quote(order_id, safe='')}", _placed)
        except ProviderRejected as exc:
            if exc.status == 404:
                return None
            raise

    def check_credentials(self) -> None:
        """One cheap authenticated call; raises CredentialsRejected when the key is refused."""
        self._call("GET", "/orders", _listed, params={"limit": 1})

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, read: Callable[[dict[str, Any]], T], *,
              body: bytes | None = None, params: Mapping[str, Any] | None = None) -> T:
        """One call, retried while the provider is unavailable; `read` turns the 2xx body
        into the result (and may itself find the answer unusable: ProviderUnavailable)."""
        retrying = Retrying(
            retry=retry_if_exception_type(ProviderUnavailable),
            stop=stop_after_attempt(max(1, self.retry.attempts)),
            wait=self._wait, reraise=True, before_sleep=_log_retry(method, path),
            sleep=self._sleep or time.sleep)
        return retrying(lambda: read(self._once(method, path, body, params)))

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.retry.initial_wait_s,
                                          max=self.retry.max_wait_s)(state)
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ProviderUnavailable) and exc.status == 429:
            if exc.retry_after is not None:
                return min(exc.retry_after, RATE_LIMIT_MAX_WAIT_S)
            return max(RATE_LIMIT_MIN_WAIT_S, backoff)
        return backoff

    def _once(self, method: str, path: str, body: bytes | None,
              params: Mapping[str, Any] | None) -> dict[str, Any]:
        url = self.base_url + path
        try:
            response = self._session.request(method, url, data=body, params=params,
                                             headers=self._headers, timeout=self.timeout,
                                             allow_redirects=False)
        except requests.Timeout as exc:
            raise ProviderUnavailable(f"Tremendous did not answer {method} {path} in time "
                                      f"({type(exc).__name__})") from None
        except requests.ConnectionError as exc:
            raise ProviderUnavailable(f"could not reach Tremendous for {method} {path} "
                                      f"({type(exc).__name__})") from None
        return _answer(response, method, path)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("an order key must be a non-empty string")


def _answer(response: requests.Response, method: str, path: str) -> dict[str, Any]:
    """The JSON body of a 2xx, or the exception its status means."""
    status = response.status_code
    try:
        body = exactjson.loads(response.content) if response.content else {}
    except ValueError:
        body = None
    if 200 <= status < 300:
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"Tremendous answered {method} {path} with a body that "
                                      "is not a JSON object", status=status)
        return body
    message, payload = _error(body)
    if status in (401, 403):
        raise CredentialsRejected(
            f"Tremendous rejected the API key ({status}): set {ENV_API_KEY} to a key of the "
            f"environment {ENV_BASE_URL} points at (TEST_ keys for the sandbox, PROD_ keys "
            "for production)", status=status)
    if status == 429 or status >= 500:
        raise ProviderUnavailable(f"Tremendous answered {status} to {method} {path}: "
                                  f"{message or response.reason}", status=status,
                                  retry_after=_retry_after(response))
    reason = _reason(message or response.reason or "refused", payload)
    if status == 409:
        raise OrderConflict(reason, status=status, payload=payload)
    if 400 <= status < 500:
        raise ProviderRejected(reason, status=status, payload=payload)
    raise ProviderUnavailable(f"Tremendous answered {status} to {method} {path}", status=status)


def _error(body: Any) -> tuple[str, dict[str, Any]]:
    """(message, payload) of Tremendous' error object.

    https://developers.tremendous.com/reference/error-handling: `{"errors": {"message",
    "payload"}}`; the rate-limiting page shows the singular `{"error": {...}}` for 429s.
    """
    if not isinstance(body, dict):
        return "", {}
    inner = body.get("errors", body.get("error"))
    if not isinstance(inner, dict):
        return "", {}
    message = inner.get("message")
    payload = inner.get("payload")
    return (_redact(str(message)) if message else "",
            _redact_tree(payload) if isinstance(payload, dict) else {})


def _reason(message: str, payload: Mapping[str, Any]) -> str:
    """The message plus each field's problem: `Order failed (reward.recipient.email: invalid)`."""
    details = [f"{path}: {text}" for path, text in _flatten(payload)]
    return f"{message} ({'; '.join(details)})" if details else message


def _flatten(payload: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in payload.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            found.extend(_flatten(value, path))
        elif isinstance(value, list):
            found.append((path, ", ".join(str(v) for v in value)))
        else:
            found.append((path, str(value)))
    return found


def _redact(text: str) -> str:
    """The text with anything that looks like an email address replaced (reasons are stored)."""
    return _EMAIL.sub("<email>", text)


def _redact_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    return _redact(value) if isinstance(value, str) else value


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _placed(answer: dict[str, Any]) -> Order:
    """The order of a create or retrieve answer."""
    order = _order(answer.get("order"))
    if order is None:
        # a 2xx without an order: the docs' 202 ("will be created asynchronously") or a
        # body we cannot read; the external_id makes trying again safe
        raise ProviderUnavailable("Tremendous answered without an order in the body")
    return order


def _listed(answer: dict[str, Any]) -> list[Order]:
    """The orders of a list answer."""
    raw = answer.get("orders")
    if not isinstance(raw, list):
        raise ProviderUnavailable("Tremendous answered the order list without `orders`")
    return [order for order in map(_order, raw) if order is not None]


def _order(raw: Any) -> Order | None:
    """An Order from the provider's order object; None when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    rewards = [r for r in raw.get("rewards") or [] if isinstance(r, dict)]
    value = rewards[0].get("value") if rewards else None
    amount = currency = None
    if isinstance(value, dict):
        amount = exactjson.amount(value.get("denomination"))
        code = value.get("currency_code")
        currency = code if isinstance(code, str) else None
    external = raw.get("external_id")
    return Order(id=raw["id"], status=str(raw.get("status") or ""),
                 external_id=external if isinstance(external, str) else None,
                 amount=amount, currency=currency,
                 reward_ids=tuple(str(r["id"]) for r in rewards if r.get("id")))


def _log_retry(method: str, path: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning("tremendous %s %s: %s; attempt %d, trying again in %.1f s", method, path,
                    exc, state.attempt_number, wait)
    return before_sleep
