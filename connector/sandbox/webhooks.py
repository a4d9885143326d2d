"""Webhook delivery: queued contact events POSTed in signed batches, retried on failure.

HubSpot's webhooks guide: events arrive as a JSON array of up to 100; a delivery fails on a
connection error, a response slower than 5 seconds or any 4xx/5xx, and is retried (up to 10
times over 24 hours) with `attemptNumber` incremented. Requests carry `X-HubSpot-Signature`
(v1: hex SHA-256 of secret + body, `X-HubSpot-Signature-Version: v1`) and
`X-HubSpot-Signature-v3` (base64 HMAC-SHA256 of method + URI + body + timestamp, keyed with
the client secret) with `X-HubSpot-Request-Timestamp` in ms ("Validating requests from
HubSpot"). HubSpot sends up to 10 requests at once; the sandbox sends one at a time, and
its retry delays are seconds rather than hours so tests can watch them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests

from connector.sandbox.values import now_ms


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp_ms: int) -> str:
    """HubSpot's v3 signature: base64 HMAC-SHA256(secret, method + uri + body + timestamp)."""
    message = f"{method}{uri}{body}{timestamp_ms}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_v1(secret: str, body: str) -> str:
    """HubSpot's v1 signature: hex SHA-256 of secret + body."""
    return hashlib.sha256((secret + body).encode()).hexdigest()


@dataclass
class DeliverySettings:
    """Where and how the sender delivers."""

    url: str
    client_secret: str
    batch_size: int = 100
    interval_s: float = 0.2
    timeout_s: float = 5.0
    max_attempts: int = 5
    retry_base_s: float = 0.5
    # "legacy": contact.* / deal.* events, as a legacy private app's subscriptions send them;
    # "generic": object.* with objectTypeId, as a developer-platform app's crmObjects send them
    shape: str = "legacy"


# the generic subscriptions' object type ids (developers.hubspot.com/changelog/
# public-beta-generic-webhook-subscriptions); privacy deletion stays a hub event by its
# legacy name (the webhooks-hsmeta `hubEvents` list)
GENERIC_TYPE_IDS = {"contact": "0-1", "deal": "0-3"}
HUB_EVENTS = ("contact.privacyDeletion",)


def generic_event(event: dict[str, Any]) -> dict[str, Any]:
    """A legacy `contact.propertyChange` event as the generic `object.propertyChange` one."""
    kind = str(event.get("subscriptionType", ""))
    name, _, action = kind.partition(".")
    if kind in HUB_EVENTS or name not in GENERIC_TYPE_IDS:
        return event
    return {**event, "subscriptionType": f"object.{action}", "objectTypeId": GENERIC_TYPE_IDS[name]}


class WebhookSender:
    """A background thread that batches, signs, POSTs and retries webhook events."""

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings
        self._queue: deque[dict[str, Any]] = deque()
        self._retries: list[tuple[float, int, list[dict[str, Any]]]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight = 0
        self.sent = self.failed = self.attempts = 0
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)

    def start(self) -> None:
        """Start the delivery thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering; events still queued are dropped."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=self.settings.timeout_s + 2)
        self._session.close()

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue one event for the next batch."""
        with self._lock:
            self._queue.append(event)

    def counters(self) -> dict[str, int]:
        """Events sent, given up, pending; and POSTs made."""
        with self._lock:
            pending = len(self._queue) + self._in_flight + sum(len(b) for _, _, b in
                                                               self._retries)
            return {"sent": self.sent, "failed": self.failed, "pending": pending,
                    "deliveries": self.attempts}

    def reset(self) -> None:
        """Zero the counters (queued events stay queued)."""
        with self._lock:
            self.sent = self.failed = self.attempts = 0

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.settings.interval_s)
            self._wake.clear()
            for attempt, batch in self._due():
                if self._stopping.is_set():
                    return
                self._deliver(attempt, batch)

    def _due(self) -> list[tuple[int, list[dict[str, Any]]]]:
        now = time.monotonic()
        with self._lock:
            due = [(a, b) for t, a, b in self._retries if t <= now]
            self._retries = [r for r in self._retries if r[0] > now]
            size = self.settings.batch_size
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(size, len(self._queue)))]
                due.append((0, batch))
            self._in_flight = sum(len(b) for _, b in due)
            return due

    def _deliver(self, attempt: int, batch: list[dict[str, Any]]) -> None:
        shaped = batch if self.settings.shape == "legacy" else [generic_event(e) for e in batch]
        body = json.dumps([{**event, "attemptNumber": attempt} for event in shaped])
        stamp = now_ms()
        secret = self.settings.client_secret
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature": sign_v1(secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", self.settings.url, body, stamp),
            "X-HubSpot-Request-Timestamp": str(stamp),
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
        }
        try:
            response = self._session.post(self.settings.url, data=body.encode(),
                                          headers=headers, timeout=self.settings.timeout_s)
            ok = 200 <= response.status_code < 300
        except requests.RequestException:
            ok = False
        with self._lock:
            self.attempts += 1
            self._in_flight -= len(batch)
            if ok:
                self.sent += len(batch)
            elif attempt + 1 < self.settings.max_attempts:
                delay = self.settings.retry_base_s * (2 ** attempt)
                self._retries.append((time.monotonic() + delay, attempt + 1, batch))
            else:
                self.failed += len(batch)
