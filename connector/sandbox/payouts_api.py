"""Tremendous' orders API in the sandbox, and its control endpoints under /_sandbox/payouts.

Served at the provider's own paths (`/api/v2/orders`...), so a client pointed at
`<sandbox url>/api/v2` (TREMENDOUS_BASE_URL) speaks to it as to
https://testflight.tremendous.com/api/v2. Bearer-key auth as documented
(https://developers.tremendous.com/reference/authentication); 401 for any other key.

Endpoints (shapes from the create/list/retrieve order reference pages):
- POST /api/v2/orders: `{"order": {...}}`, 200 new, 201 the order its external_id already
  names, 409 that external_id with other parameters, 400/402/422 with the error object;
- GET /api/v2/orders: `{"orders": [...], "total_count": n}`, filters `external_id`,
  `campaign_id`, `created_at[gte]`/`created_at[lte]`, paged by `offset` and `limit`
  (default 10, at most 500), newest first;
- GET /api/v2/orders/<id>: `{"order": {...}}` by id or external_id, 404 when unknown.

Control (no auth), for tests and the demo:
- GET /_sandbox/payouts/orders: every order, oldest first, `{"orders": [...], "total_count"}`;
- GET /_sandbox/payouts/stats: requests by route and status, orders created / replayed /
  conflicting, faults fired;
- POST /_sandbox/payouts/faults: any of error_rate (0..1), error_status (5xx), fail_next,
  timeout_after_accept, timeout_delay_s, drop_after_accept, error_after_accept (see
  `PayoutFaults`); answers every fault now set;
- POST /_sandbox/payouts/config: `api_key` (the key accepted), `balance` (a decimal string
  or number: USD left to spend, 402 beyond it; null: unlimited);
- POST /_sandbox/payouts/reset: orders, faults, counters, balance and key back to the start.
"""

from __future__ import annotations

import logging
import socket
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from connector.payouts import exactjson
from connector.sandbox.payouts import (
    DEFAULT_LIST,
    MAX_LIST,
    SANDBOX_API_KEY,
    PayoutProvider,
    ProviderAnswer,
)
from connector.sandbox.values import parse_time_ms

log = logging.getLogger(__name__)

PREFIX = "/api/v2"
EXTENSION = "sandbox_payouts"

bp = Blueprint("sandbox_payouts", __name__, url_prefix=PREFIX)
control = Blueprint("sandbox_payouts_control", __name__, url_prefix="/_sandbox/payouts")


def register(app: Flask, *, api_key: str = SANDBOX_API_KEY, seed: int = 0) -> None:
    """Serve the provider's API and its control endpoints from `app`."""
    app.extensions[EXTENSION] = PayoutProvider(api_key=api_key, seed=seed)
    app.register_blueprint(bp)
    app.register_blueprint(control)


def provider() -> PayoutProvider:
    """The provider account of the running app."""
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, PayoutProvider)
    return found


def _json(body: Any, status: int = 200) -> Response:
    return Response(exactjson.dumps(body), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _json(ProviderAnswer(status, message).body(), status)


@bp.before_request
def _guard() -> Response | None:
    account = provider()
    if account.fail_now():
        # the docs name 500 "Unexpected error" and the error object; the text is the sandbox's
        return _error(account.faults.error_status, "Unexpected error (sandbox fault)")
    if request.headers.get("Authorization", "") != f"Bearer {account.api_key}":
        # status documented ("Authorization error e.g. due to an invalid or missing API key"),
        # message text the sandbox's
        return _error(401, "The API key you provided is invalid or missing")
    return None


@bp.after_request
def _count(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    provider().stats[f"{request.method} {rule} {response.status_code}"] += 1
    return response


@bp.errorhandler(ProviderAnswer)
def _provider_error(exc: ProviderAnswer) -> Response:
    return _json(exc.body(), exc.status)


@bp.post("/orders")
def create_order() -> Response:
    """Create an order, or answer the one its external_id already names."""
    account = provider()
    try:
        body = exactjson.loads(request.get_data())
    except ValueError:
        raise ProviderAnswer(400, "Order failed: the request body is not JSON") from None
    placed = account.place(body)
    answer = _json({"order": placed.order}, 200 if placed.created else 201)
    if not placed.created:
        return answer
    if account.faults.answer_delay_s:
        time.sleep(account.faults.answer_delay_s)
    fault = account.after_accept()
    if fault == "timeout":
        time.sleep(account.faults.timeout_delay_s)
    elif fault == "drop":
        _drop_connection()
    elif fault == "error":
        return _error(account.faults.error_status, "Unexpected error (sandbox fault)")
    return answer


def _drop_connection() -> None:
    """Close the client's connection without an answer (the order stays created)."""
    sock = request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        # not served by werkzeug's server: the nearest thing is an answer that comes too late
        time.sleep(provider().faults.timeout_delay_s)
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        log.debug("the connection was already closed")


@bp.get("/orders")
def list_orders() -> Response:
    """Orders, newest first, filtered by external_id, campaign_id and creation time."""
    args = request.args
    try:
        offset = max(0, int(args.get("offset", 0)))
        limit = max(1, min(MAX_LIST, int(args.get("limit", DEFAULT_LIST))))
    except ValueError:
        raise ProviderAnswer(400, "offset and limit must be integers") from None
    bounds = []
    for name in ("created_at[gte]", "created_at[lte]"):
        raw = args.get(name)
        parsed = parse_time_ms(raw) if raw else None
        if raw and parsed is None:
            raise ProviderAnswer(400, f"{name} must be an ISO 8601 datetime")
        bounds.append(parsed)
    orders, total = provider().search(
        external_id=args.get("external_id"), campaign_id=args.get("campaign_id"),
        created_from_ms=bounds[0], created_to_ms=bounds[1], offset=offset, limit=limit)
    return _json({"orders": orders, "total_count": total})


@bp.get("/orders/<key>")
def get_order(key: str) -> Response:
    """One order by id or by external_id; 404 when neither names one."""
    found = provider().get(key)
    if found is None:
        raise ProviderAnswer(404, "No order could be found for the provided ID")
    return _json({"order": found})


@control.get("/orders")
def all_orders() -> Response:
    """Every order the provider holds, oldest first."""
    orders = provider().all_orders()
    return _json({"orders": orders, "total_count": len(orders)})


@control.get("/stats")
def stats() -> Any:
    """Requests by route and status, orders created, replayed and conflicting, faults fired."""
    return jsonify(provider().counters())


@control.post("/faults")
def faults() -> Any:
    """Set some faults; answers every fault now set (400 for an unknown name or bad value)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        now = provider().set_faults(body)
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(vars(now))


@control.post("/config")
def config() -> Any:
    """Set the accepted API key and/or the USD balance (null: unlimited)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    account = provider()
    with account.lock:
        if "api_key" in body:
            if not isinstance(body["api_key"], str) or not body["api_key"]:
                return jsonify({"error": "api_key must be a non-empty string"}), 400
            account.api_key = body["api_key"]
        if "balance" in body:
            raw = body["balance"]
            try:
                account.balance = None if raw is None else Decimal(str(raw))
            except InvalidOperation:
                return jsonify({"error": "balance must be a decimal amount or null"}), 400
        balance = account.balance
    return jsonify({"balance": None if balance is None else str(balance)})


@control.post("/reset")
def reset() -> Any:
    """Forget orders, faults, counters and balance; the key goes back to the default."""
    provider().reset()
    return jsonify({"reset": True})
