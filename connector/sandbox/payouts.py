"""The gift-card provider's side of the sandbox (Tremendous): orders, idempotency, faults.

Behaviour from Tremendous' public API reference (https://developers.tremendous.com/reference/
core-orders-create, .../error-handling, .../docs/sandbox-environment):
- an order holds one reward (`value.denomination` and `currency_code`, `recipient`,
  `delivery.method`) paid from a funding source; `balance` is the account's balance;
- `external_id` makes an order idempotent: the same `external_id` with the same payload
  answers the existing order with 201 and creates nothing; with "different parameters (e.g.
  amount, recipient)" it answers 409;
- a new order answers 200 (the create-order reference: "The HTTP status code 200 on the
  response will be used to indicate success"; the error-handling page's table reads 201 as
  "new resource created", and the sandbox follows the operation's own reference);
- errors are `{"errors": {"message", "payload"}}`, the payload mirroring the request's
  fields; 400 validation, 401 credentials, 402 funds, 404 unknown id, 422 a missing
  required parameter.

Where the docs are silent the sandbox chooses, and says so where it does:
- which parameters make a repeat "the same payload": funding source, campaign, products,
  amount (compared as numbers: 50 and 50.00 are the same), currency, recipient and delivery
  method;
- concurrent duplicates: requests are serialised by a lock, so the second one answers 201;
- orders execute at once (`EXECUTED`, rewards `SCHEDULED`), without approvals or fees;
- error message texts (only the status codes and the body shape are documented);
- the balance, when one is set, counts USD orders only (the sandbox has no exchange rates).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from connector.payouts import exactjson
from connector.sandbox.values import iso_ms, now_ms

# The key the sandbox provider accepts unless the control API sets another; Tremendous'
# sandbox keys are prefixed TEST_ (docs/sandbox-environment)
SANDBOX_API_KEY = "TEST_sandbox-payouts-key"  # noqa: S105 - the sandbox's well-known demo key
BALANCE = "balance"
DELIVERY_METHODS = ("EMAIL", "LINK", "PHONE")
MAX_LIST = 500  # list orders: "The maximum value is 500 and the default is 10"
DEFAULT_LIST = 10
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ID = re.compile(r"^[A-Z0-9]{4,20}$")  # the id pattern of Tremendous' OpenAPI spec
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProviderAnswer(Exception):
    """An error the provider answers with its JSON error body."""

    def __init__(self, status: int, message: str, payload: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.payload = payload or {}

    def body(self) -> dict[str, Any]:
        """Tremendous' error object."""
        return {"errors": {"message": self.message, "payload": self.payload}}


def _invalid(payload: dict[str, Any]) -> ProviderAnswer:
    return ProviderAnswer(400, "Order failed: validation failure", payload)


def _missing(payload: dict[str, Any]) -> ProviderAnswer:
    return ProviderAnswer(422, "Order failed: missing required parameters", payload)


@dataclass
class PayoutFaults:
    """Injected failures of the provider's API.

    error_rate: the share of API requests answered `error_status` before anything happens;
    fail_next: that many next API requests answered `error_status` before anything happens;
    timeout_after_accept: that many next new orders are created, then answered only after
    `timeout_delay_s` (past the client's read timeout);
    drop_after_accept: that many next new orders are created, then the connection is closed
    without an answer;
    error_after_accept: that many next new orders are created, then answered `error_status`;
    answer_delay_s: every new order is created, then answered this much later (a slow
    provider: the window in which the connector may die knowing nothing of the order).
    """

    error_rate: float = 0.0
    error_status: int = 500
    fail_next: int = 0
    timeout_after_accept: int = 0
    timeout_delay_s: float = 2.0
    drop_after_accept: int = 0
    error_after_accept: int = 0
    answer_delay_s: float = 0.0


@dataclass(frozen=True)
class Placed:
    """The answer to one create: the order, and whether this request created it."""

    order: dict[str, Any]
    created: bool


class PayoutProvider:
    """One provider account: its API key, orders, optional balance, faults and counters."""

    def __init__(self, api_key: str = SANDBOX_API_KEY, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self.api_key = api_key
        self.faults = PayoutFaults()
        self.stats: Counter[str] = Counter()
        self.balance: Decimal | None = None  # None: unlimited
        self._seed = seed
        self._random = random.Random(seed)
        self._orders: dict[str, dict[str, Any]] = {}
        self._by_external: dict[str, str] = {}
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self._created_ms: dict[str, int] = {}

    # -- orders ----------------------------------------------------------------------------

    def place(self, body: Any) -> Placed:
        """Create the order the body describes, or answer the one its external_id names."""
        request = _validate(body)
        external_id = request["external_id"]
        with self.lock:
            if external_id is not None and external_id in self._by_external:
                order_id = self._by_external[external_id]
                if self._fingerprints[order_id] != request["fingerprint"]:
                    self.stats["orders_conflicting"] += 1
                    raise ProviderAnswer(
                        409, f"An order with external_id {external_id} already exists with "
                        "different parameters", {"external_id": "is already taken"})
                self.stats["orders_replayed"] += 1
                return Placed(self._orders[order_id], created=False)
            amount = request["amount"]
            if self.balance is not None and request["currency"] == "USD":
                if amount > self.balance:
                    raise ProviderAnswer(402, "Not enough funds in your account",
                                         {"payment": {"funding_source_id": "has not enough "
                                                      "funds for this order"}})
                self.balance -= amount
            order = self._new_order(request)
            self._orders[order["id"]] = order
            self._fingerprints[order["id"]] = request["fingerprint"]
            if external_id is not None:
                self._by_external[external_id] = order["id"]
            self.stats["orders_created"] += 1
            return Placed(order, created=True)

    def get(self, key: str) -> dict[str, Any] | None:
        """An order by its id or, as the docs allow, by its external_id."""
        with self.lock:
            found = self._orders.get(key)
            if found is None and key in self._by_external:
                found = self._orders[self._by_external[key]]
            return found

    def search(self, *, external_id: str | None = None, campaign_id: str | None = None,
               created_from_ms: int | None = None, created_to_ms: int | None = None,
               offset: int = 0, limit: int = DEFAULT_LIST) -> tuple[list[dict[str, Any]], int]:
        """Orders matching every given filter, newest first; (one page, total count)."""
        with self.lock:
            matching = [o for o in reversed(self._orders.values())
                        if (external_id is None or o.get("external_id") == external_id)
                        and (campaign_id is None or o.get("campaign_id") == campaign_id)
                        and (created_from_ms is None
                             or self._created_ms[o["id"]] >= created_from_ms)
                        and (created_to_ms is None or self._created_ms[o["id"]] <= created_to_ms)]
        return matching[offset:offset + limit], len(matching)

    def all_orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first (for tests, through the control API)."""
        with self.lock:
            return list(self._orders.values())

    def _new_order(self, request: dict[str, Any]) -> dict[str, Any]:
        order_id, reward_id = self._new_id(), self._new_id()
        created_ms = now_ms()
        self._created_ms[order_id] = created_ms
        created_at = iso_ms(created_ms)
        reward: dict[str, Any] = {
            "id": reward_id, "order_id": order_id, "created_at": created_at,
            "value": {"denomination": request["amount"], "currency_code": request["currency"]},
            "recipient": request["recipient"],
            "delivery": {"method": request["delivery_method"], "status": "SCHEDULED"}}
        order: dict[str, Any] = {
            "id": order_id, "external_id": request["external_id"],
            "campaign_id": request["campaign_id"], "created_at": created_at,
            "status": "EXECUTED", "channel": "API"}
        if request["currency"] == "USD":
            # "Cost and fees are always denominated in USD"; the sandbox charges no fees and
            # has no exchange rates, so only USD orders carry a payment breakdown
            amount = request["amount"]
            zero = Decimal("0.00")
            order["payment"] = {"subtotal": amount, "total": amount, "fees": zero,
                                "discount": zero}
        order["rewards"] = [reward]
        return order

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._random.choice(_ID_CHARS) for _ in range(12))
            if candidate not in self._orders:
                return candidate

    def counters(self) -> dict[str, int]:
        """The number of orders, and the counters of requests, replays, conflicts, faults."""
        with self.lock:
            return {"orders": len(self._orders), **self.stats}

    # -- faults and control ----------------------------------------------------------------

    def set_faults(self, values: dict[str, Any]) -> PayoutFaults:
        """Change the named faults (unknown names are refused); answers all faults now set."""
        unknown = set(values) - set(asdict(self.faults))
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        with self.lock:
            for name, value in values.items():
                current = getattr(self.faults, name)
                if isinstance(current, float):
                    number = float(value)
                    if number < 0 or (name == "error_rate" and number > 1):
                        raise ValueError(f"{name} out of range: {value}")
                    setattr(self.faults, name, number)
                else:
                    count = int(value)
                    if count < 0 or (name == "error_status" and not 500 <= count <= 599):
                        raise ValueError(f"{name} out of range: {value}")
                    setattr(self.faults, name, count)
            return PayoutFaults(**asdict(self.faults))

    def fail_now(self) -> bool:
        """Whether this API request is answered with an injected 5xx (fail_next, error_rate)."""
        with self.lock:
            if self.faults.fail_next > 0:
                self.faults.fail_next -= 1
                self.stats["faults_fired"] += 1
                return True
            if self.faults.error_rate and self._random.random() < self.faults.error_rate:
                self.stats["faults_fired"] += 1
                return True
            return False

    def after_accept(self) -> str | None:
        """The fault a newly created order's answer suffers: timeout, drop, error, or None."""
        with self.lock:
            for name, fault in (("timeout_after_accept", "timeout"),
                                ("drop_after_accept", "drop"),
                                ("error_after_accept", "error")):
                if getattr(self.faults, name) > 0:
                    setattr(self.faults, name, getattr(self.faults, name) - 1)
                    self.stats["faults_fired"] += 1
                    return fault
            return None

    def reset(self) -> None:
        """Forget orders, faults, counters and balance; the key goes back to the default."""
        with self.lock:
            self._orders.clear()
            self._by_external.clear()
            self._fingerprints.clear()
            self._created_ms.clear()
            self.faults = PayoutFaults()
            self.stats.clear()
            self.balance = None
            self.api_key = SANDBOX_API_KEY
            self._random = random.Random(self._seed)


def _validate(body: Any) -> dict[str, Any]:
    """The parts of a create-order body the sandbox uses, or the provider's 400/422."""
    if not isinstance(body, dict):
        raise _invalid({"body": "must be a JSON object"})
    external_id = body.get("external_id")
    if external_id is not None and (not isinstance(external_id, str) or not external_id):
        raise _invalid({"external_id": "must be a non-empty string"})
    payment = body.get("payment")
    funding = payment.get("funding_source_id") if isinstance(payment, dict) else None
    if not funding:
        # the error-handling page's own example
        raise _missing({"payment": {"funding_source_id": "Your request was missing a "
                                    "funding_source_id. Tremendous requires this to determine "
                                    "how to pay for your order."}})
    if funding != BALANCE:
        # the sandbox account has one funding source, its balance
        raise _invalid({"payment": {"funding_source_id": "is not a funding source of this "
                                    "account"}})
    reward = body.get("reward")
    if not isinstance(reward, dict):
        raise _missing({"reward": "is missing"})
    campaign_id = reward.get("campaign_id")
    products = reward.get("products")
    if not campaign_id and not products:
        raise _missing({"reward": {"products": "Either products or campaign_id must be "
                                   "specified"}})
    if campaign_id is not None and not (isinstance(campaign_id, str) and _ID.match(campaign_id)):
        raise _invalid({"reward": {"campaign_id": "is not a campaign id"}})
    if products is not None and not (
            isinstance(products, list)
            and all(isinstance(p, str) and _ID.match(p) for p in products)):
        raise _invalid({"reward": {"products": "must be a list of product ids"}})
    value = reward.get("value")
    if not isinstance(value, dict) or "denomination" not in value:
        raise _missing({"reward": {"value": {"denomination": "is missing"}}})
    amount = exactjson.amount(value["denomination"])
    if amount is None or not amount.is_finite() or amount <= 0:
        # documented as "number (double)": a JSON number, positive
        raise _invalid({"reward": {"value": {"denomination": "must be a positive number"}}})
    currency = value.get("currency_code", "USD")  # the documented default
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise _invalid({"reward": {"value": {"currency_code": "is not a currency code"}}})
    delivery = reward.get("delivery") or {}
    method = delivery.get("method", "EMAIL") if isinstance(delivery, dict) else None
    if method not in DELIVERY_METHODS:
        raise _invalid({"reward": {"delivery": {"method": "must be EMAIL, LINK or PHONE"}}})
    recipient = reward.get("recipient")
    if not isinstance(recipient, dict):
        raise _missing({"reward": {"recipient": "is missing"}})
    email, name, phone = recipient.get("email"), recipient.get("name"), recipient.get("phone")
    if method == "EMAIL" and not email:
        raise _missing({"reward": {"recipient": {"email": "is missing"}}})
    if email is not None and not (isinstance(email, str) and _EMAIL.match(email)):
        raise _invalid({"reward": {"recipient": {"email": "is not a valid email address"}}})
    if method == "PHONE" and not phone:
        raise _missing({"reward": {"recipient": {"phone": "is missing"}}})
    kept = {k: recipient[k] for k in ("name", "email", "phone") if recipient.get(k) is not None}
    products_key = tuple(products or ())
    return {
        "external_id": external_id, "campaign_id": campaign_id, "amount": amount,
        "currency": currency, "recipient": kept, "delivery_method": method,
        "fingerprint": (funding, campaign_id, products_key, amount, currency, name, email,
                        phone, method)}
