"""HubSpot webhook receiver: verify, store in the inbox, commit, and only then acknowledge."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import DataError, SQLAlchemyError

from connector.metrics import WEBHOOK_EVENTS
from connector.queue.inbox import backlog, store_events
from connector.web.current import runtime_of
from connector.web.deliveries import (
    WORKFLOW_NAME,
    BadEvents,
    parse_hubspot_events,
    parse_workflow_event,
)
from connector.web.inbound import raw_body, signature_problem

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

# workflow actions are shed with 429 above this backlog: HubSpot retries a 429 and honours its
# Retry-After, in milliseconds (knowledge.hubspot.com "Use webhooks with HubSpot workflows")
SHED_BACKLOG = 50_000
SHED_RETRY_AFTER_MS = 60_000


def _answer(status: int, outcome: str, count: int = 1, reason: str = "") -> Response:
    """A short plain answer, counted in the metrics by outcome."""
    WEBHOOK_EVENTS.labels(outcome=outcome).inc(count)
    return Response(reason, status=status, mimetype="text/plain")


@bp.post("/webhooks/hubspot")
def hubspot_events() -> Response:
    """App webhooks: a JSON array of events, stored durably before the 204."""
    body = raw_body()
    if body is None:
        return _answer(413, "rejected_size", reason="body over 1 MiB")
    problem = signature_problem(body)
    if problem:
        log.warning("webhook rejected: %s", problem)
        return _answer(401, "rejected_signature", reason="bad signature")
    try:
        events = parse_hubspot_events(body)
    except BadEvents as exc:
        return _bad_delivery(str(exc))
    WEBHOOK_EVENTS.labels(outcome="received").inc(len(events))
    try:
        stored = store_events(runtime_of(current_app).engine, events)
    except DataError as exc:
        # the database refused a value, not the connection: retrying would fail the same way
        return _bad_delivery(f"a value the database refuses ({type(exc.orig).__name__})",
                             len(events))
    except SQLAlchemyError as exc:
        # not stored, so not acknowledged: HubSpot retries the delivery
        log.error("inbox unavailable, answering 503: %s", type(exc).__name__)
        return _answer(503, "unavailable", len(events), reason="inbox unavailable")
    WEBHOOK_EVENTS.labels(outcome="duplicate").inc(len(events) - stored)
    return _answer(204, "stored", stored)


def _bad_delivery(problem: str, count: int = 1) -> Response:
    """400 for a delivery that can never be stored (counted `rejected_body`, logged as such),
    told apart from an outage (503, `unavailable`, "inbox unavailable")."""
    log.warning("webhook rejected, bad delivery: %s", problem)
    return _answer(400, "rejected_body", count, reason=problem)


def _workflow_authenticated(body: bytes) -> bool:
    """A workflow action signed by HubSpot (v2, or v1/v3) or carrying our API key.

    HubSpot lets the admin name the key and put it in a header or the query
    (https://knowledge.hubspot.com/workflows/how-do-i-use-webhooks-with-hubspot-workflows):
    we accept the header `X-Connector-Key`, `Authorization: Bearer <key>` or the query `key`.
    """
    if request.headers.get("X-HubSpot-Signature") or request.headers.get("X-HubSpot-Signature-v3"):
        return signature_problem(body) is None
    expected = runtime_of(current_app).settings.workflow_webhook_key
    if not expected:
        return False
    bearer = request.headers.get("Authorization", "")
    given = (
        request.headers.get("X-Connector-Key")
        or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        or request.args.get("key", "")
    )
    return hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace"))


@bp.post("/webhooks/workflow/<name>")
def workflow_action(name: str) -> Response:
    """Workflow "Send a webhook" milestone: the record's properties; re-scored by the worker."""
    body = raw_body()
    if body is None:
        return _answer(413, "rejected_size", reason="body over 1 MiB")
    if not _workflow_authenticated(body):
        return _answer(401, "rejected_signature", reason="bad signature or key")
    if not WORKFLOW_NAME.fullmatch(name):
        return _answer(400, "rejected_body", reason="bad workflow name")
    try:
        event = parse_workflow_event(name, body)
    except BadEvents as exc:
        return _bad_delivery(str(exc))
    engine = runtime_of(current_app).engine
    try:
        limit = int(current_app.config.get("INBOX_SHED_BACKLOG", SHED_BACKLOG))
        if backlog(engine) > limit:
            response = _answer(429, "shed", reason="inbox backlog, retry later")
            response.headers["Retry-After"] = str(SHED_RETRY_AFTER_MS)
            return response
        stored = store_events(engine, [event])
    except SQLAlchemyError as exc:
        log.error("inbox unavailable, answering 503: %s", type(exc).__name__)
        return _answer(503, "unavailable", reason="inbox unavailable")
    return _answer(204, "stored" if stored else "duplicate")
