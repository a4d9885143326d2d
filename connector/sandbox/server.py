"""The sandbox app and server: `create_sandbox_app(config)`, `run_in_thread(config)`."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connector.sandbox import (
    api_automation,
    api_contacts,
    api_control,
    api_properties,
    deals_api,
    landing,
    notes_api,
    payouts_api,
)
from connector.sandbox.errors import HubSpotError, error_body
from connector.sandbox.limits import SERVER_ERROR_CATEGORIES, Limits
from connector.sandbox.outcomes import MODELS, generate_outcome_contacts
from connector.sandbox.portal import DEFAULT_SUBSCRIBED, Portal, PortalOptions
from connector.sandbox.seed import generate_contacts
from connector.sandbox.state import SandboxState, state
from connector.sandbox.webhooks import DeliverySettings, WebhookSender

log = logging.getLogger(__name__)

SEARCH_PATH = "/crm/v3/objects/contacts/search"


@dataclass
class SandboxConfig:
    """Everything a sandbox portal can be set up with; defaults suit `connector demo`."""

    port: int = 0  # 0 picks a free port
    host: str = "127.0.0.1"
    contacts: int = 500
    seed: int = 7
    now: datetime | None = None  # the seed's "today"; None = today (UTC midnight)
    access_token: str = "sandbox-token"  # noqa: S105 - the sandbox's well-known demo token
    client_secret: str = "sandbox-secret"  # noqa: S105 - the sandbox's well-known demo secret
    webhook_url: str | None = None
    webhook_shape: str = "legacy"  # or "generic": a developer-platform app's object.* events
    rate_limit_per_10s: int = 100
    search_rate_per_s: float = 5.0  # HubSpot's documented search limit
    daily_limit: int = 250_000  # Free/Starter private apps
    search_lag_s: float = 0.0
    subscribed_properties: list[str] = field(default_factory=lambda: list(DEFAULT_SUBSCRIBED))
    webhook_batch_size: int = 100
    webhook_interval_s: float = 0.2
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = 5
    webhook_retry_base_s: float = 0.5
    portal_id: int = 62515
    app_id: int = 1160452
    log_requests: bool = False  # one access-log line per request (the CLI turns it on)
    # seed customers whose hidden propensity to refer follows this model (sandbox/outcomes.py:
    # "truth" or "random") instead of the default portal
    outcome_model: str | None = None
    # the landing page's form (/_sandbox/landing): hidden fields filled from the query string
    landing_hidden_fields: list[str] = field(default_factory=lambda: ["referred_by_code"])
    # custom association labels: off emulates a portal whose subscription lacks them
    association_labels: bool = True


def create_sandbox_app(config: SandboxConfig) -> Flask:
    """A Flask app serving one seeded in-memory portal (the webhook sender is not started)."""
    sender = None
    if config.webhook_url:
        sender = WebhookSender(DeliverySettings(
            url=config.webhook_url, client_secret=config.client_secret,
            batch_size=config.webhook_batch_size, interval_s=config.webhook_interval_s,
            timeout_s=config.webhook_timeout_s, max_attempts=config.webhook_max_attempts,
            retry_base_s=config.webhook_retry_base_s, shape=config.webhook_shape))
    portal = Portal(PortalOptions(portal_id=config.portal_id, app_id=config.app_id,
                                  search_lag_s=config.search_lag_s,
                                  subscribed_properties=list(config.subscribed_properties)),
                    event_sink=sender.enqueue if sender else None)
    propensity: dict[str, float] = {}
    if config.outcome_model is None:
        portal.seed(generate_contacts(config.contacts, config.seed, config.now))
    else:
        model = MODELS[config.outcome_model]
        rows = list(generate_outcome_contacts(config.contacts, config.seed, config.now))
        ids = portal.seed(rows)
        propensity = {str(cid): model.propensity(row) for cid, row in zip(ids, rows, strict=True)}
    limits = Limits(config.rate_limit_per_10s, config.search_rate_per_s, config.daily_limit,
                    seed=config.seed)
    app = Flask("connector.sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = SandboxState(portal, limits, config.access_token,
                                             webhooks=sender, propensity=propensity)
    for module in (api_properties, api_contacts, api_automation, api_control, deals_api):
        app.register_blueprint(module.bp)
    app.register_blueprint(deals_api.control)
    payouts_api.register(app, seed=config.seed)  # the gift-card provider (Tremendous)
    landing.register(app, config.landing_hidden_fields)  # the company's form, for share links
    notes_api.register(app, labels_allowed=config.association_labels)  # referrals in the CRM
    app.before_request(_guard)
    app.after_request(_count)
    app.register_error_handler(HubSpotError, _hubspot_error)
    app.register_error_handler(HTTPException, _http_error)
    for malformed in MALFORMED_INPUT:
        app.register_error_handler(malformed, _malformed_input)
    return app


def _guard() -> Response | None:
    if request.path.startswith(("/_sandbox", payouts_api.PREFIX)):  # the provider checks its own
        return None
    current = state()
    g.sandbox_api = True
    if request.headers.get("Authorization", "") != f"Bearer {current.access_token}":
        return _json(error_body(
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview"), 401)
    verdict = current.limits.admit(request.path == SEARCH_PATH)
    g.rate_headers = verdict.headers
    if verdict.refusal is not None:
        return _json(verdict.refusal, 429)
    latency = current.limits.faults.latency_ms
    if latency:
        time.sleep(latency / 1000)
    if current.limits.fail_now():
        status = current.limits.faults.error_status
        return _json(error_body(SERVER_ERROR_CATEGORIES[status],
                                f"HTTP {status} (sandbox fault)"), status)
    return None


def _count(response: Response) -> Response:
    if g.get("sandbox_api"):
        rule = request.url_rule.rule if request.url_rule is not None else request.path
        state().stats.count(f"{request.method} {rule}", response.status_code)
        for name, value in (g.get("rate_headers") or {}).items():
            response.headers[name] = value
    return response


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _hubspot_error(exc: HubSpotError) -> Response:
    return _json(exc.body(), exc.status)


# HubSpot checks a request body against the endpoint's schema before acting on it and answers
# 400 VALIDATION_ERROR ("Invalid input JSON ..."); the handlers read bodies in the documented
# shape, so a body of another shape (a list where an object goes, text where a number goes)
# ends in one of these while being read, and gets that answer instead of a 500
# (a body nested deeper than the JSON reader goes ends in RecursionError)
MALFORMED_INPUT: tuple[type[Exception], ...] = (TypeError, AttributeError, LookupError,
                                                 ValueError, OverflowError, RecursionError)


def _malformed_input(exc: Exception) -> Response:
    log.warning("sandbox: malformed request to %s answered 400 (%s)", request.path,
                type(exc).__name__)
    message = (f"Invalid input JSON: the request does not match the expected shape "
               f"({type(exc).__name__})")
    if request.path.startswith(payouts_api.PREFIX):  # the gift-card API's own error shape
        return payouts_api._error(400, message)  # noqa: SLF001 - the sandbox's sibling
    return _json(error_body("VALIDATION_ERROR", message), 400)


def _http_error(exc: HTTPException) -> Response:
    category = {404: "OBJECT_NOT_FOUND", 405: "VALIDATION_ERROR"}.get(exc.code or 500, "ERROR")
    return _json(error_body(category, exc.description or exc.name), exc.code or 500)


@dataclass
class SandboxHandle:
    """A running sandbox: its URL, its portal (for assertions and direct edits), and stop()."""

    url: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def portal(self) -> Portal:
        """The in-memory portal behind the server."""
        return self._state.portal

    @property
    def _state(self) -> SandboxState:
        found = self.app.extensions["sandbox"]
        assert isinstance(found, SandboxState)
        return found

    def propensity(self, contact_id: str | int) -> float:
        """A seeded contact's hidden chance of referring within a month of an ask (an
        `outcome_model` portal only; the API never shows it)."""
        return self._state.propensity[str(contact_id)]

    def stats(self) -> dict[str, Any]:
        """The same counters as GET /_sandbox/stats."""
        return {**self._state.stats.snapshot(), "webhooks": self._state.webhook_counters()}

    def stop(self) -> None:
        """Stop the webhook sender and the HTTP server."""
        if self._state.webhooks is not None:
            self._state.webhooks.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def run_in_thread(config: SandboxConfig) -> SandboxHandle:
    """Start a sandbox on loopback in background threads (threaded werkzeug server)."""
    app = create_sandbox_app(config)
    handler = WSGIRequestHandler if config.log_requests else _QuietHandler
    server = make_server(config.host, config.port, app, threaded=True, request_handler=handler)
    # A short poll interval lets stop() return quickly (tests start many sandboxes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="sandbox-http", daemon=True)
    thread.start()
    sandbox = app.extensions["sandbox"]
    if sandbox.webhooks is not None:
        sandbox.webhooks.start()
    return SandboxHandle(f"http://{config.host}:{server.server_port}", app, server, thread)
