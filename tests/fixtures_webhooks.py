"""Fixtures for the webhook receiver: an app on the test database and a HubSpot-like signer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, func, select

from connector.db.models import InboxEvent
from connector.runtime import Runtime
from connector.web.app import create_app
from connector.web.signatures import sign_v3

HOOK_PATH = "/webhooks/hubspot"


def inbox_count(engine: Engine) -> int:
    """Events stored in the inbox."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def webhook_metric(outcome: str) -> float:
    """The receiver's counter of events by outcome, in this process's registry."""
    value = REGISTRY.get_sample_value("connector_webhook_events_total", {"outcome": outcome})
    return value or 0.0


def contact_event(object_id: int, event_id: int | None = None, **fields: Any) -> dict[str, Any]:
    """One HubSpot app-webhook event as HubSpot sends it."""
    event = {
        "eventId": event_id if event_id is not None else object_id * 10,
        "subscriptionId": 4242, "portalId": 62515, "appId": 54321,
        "occurredAt": 1_700_000_000_000 + object_id, "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": object_id, "propertyName": "hs_feedback_last_nps_rating",
        "propertyValue": "10", "changeSource": "CRM",
    }
    event.update(fields)
    return event


class HubSpotSigner:
    """Builds requests as HubSpot signs them (v3) for a given public URL and secret."""

    def __init__(self, secret: str, public_url: str) -> None:
        self.secret = secret
        self.public_url = public_url

    def headers(self, body: bytes, path: str = HOOK_PATH, ts_ms: int | None = None,
                method: str = "POST") -> dict[str, str]:
        ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
        return {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(self.secret, method, self.public_url + path,
                                              body, ts),
            "X-HubSpot-Request-Timestamp": str(ts),
        }

    def post(self, client: FlaskClient, events: Any, path: str = HOOK_PATH, **kw: Any) -> Any:
        body = events if isinstance(events, bytes) else json.dumps(events).encode()
        return client.post(path, data=body, headers=self.headers(body, path, **kw))


@pytest.fixture
def webhook_app(runtime: Runtime) -> Flask:
    """The web app on the SQLite test runtime."""
    return create_app(runtime=runtime)


@pytest.fixture
def webhook_client(webhook_app: Flask) -> FlaskClient:
    return webhook_app.test_client()


@pytest.fixture
def signer(runtime: Runtime) -> HubSpotSigner:
    """Signs like HubSpot with the test settings' secret and public URL."""
    assert runtime.settings.hubspot_client_secret and runtime.settings.public_url
    return HubSpotSigner(runtime.settings.hubspot_client_secret, runtime.settings.public_url)


SignerFactory = Callable[[str, str], HubSpotSigner]
