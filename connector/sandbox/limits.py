"""HubSpot's API limits (burst window, daily, search rate), injected faults, and counters.

From HubSpot's API usage guidelines: private apps get a burst budget per rolling 10 seconds
and a daily budget, reported in `X-HubSpot-RateLimit-*` headers; the search endpoints have
their own per-second limit, carry none of those headers and do not draw on the burst budget.
Whether a refused (429) request counts against the window is not documented; the sandbox
does not count it, so a client that waits out the window always recovers.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from connector.sandbox.errors import error_body

WINDOW_S = 10.0
# HubSpot documents 5xx answers but not their bodies: the usual error shape, a category each
SERVER_ERROR_CATEGORIES = {500: "INTERNAL_ERROR", 502: "BAD_GATEWAY",
                           503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}


@dataclass
class Faults:
    """Injected failures: a share of 5xx answers (503 unless `error_status` says another),
    added latency, and a burst of forced 429s."""

    error_rate: float = 0.0
    latency_ms: int = 0
    rate_limit_burst: int = 0
    error_status: int = 503
    error_burst: int = 0  # the next N API requests answer `error_status`, whatever the rate


@dataclass
class Verdict:
    """What the limiter decided for one request: a refusal body, and headers to send."""

    refusal: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Limits:
    """The portal's burst window, daily count and search rate, plus injected faults."""

    def __init__(self, per_10s: int, search_per_s: float, daily: int, seed: int = 0) -> None:
        self.per_10s = per_10s
        self.search_per_s = search_per_s
        self.daily = daily
        self.faults = Faults()
        self._lock = threading.Lock()
        self._burst: deque[float] = deque()
        self._search: deque[float] = deque()
        self._daily_used = 0
        self._random = random.Random(seed)

    def admit(self, is_search: bool) -> Verdict:
        """Count one request or refuse it with HubSpot's 429 body."""
        now = time.monotonic()
        with self._lock:
            if is_search:
                return Verdict(self._admit_search(now))
            while self._burst and self._burst[0] <= now - WINDOW_S:
                self._burst.popleft()
            refusal = None
            if self.faults.rate_limit_burst > 0:
                self.faults.rate_limit_burst -= 1
                refusal = _rate_body("ten_secondly_rolling", "TEN_SECONDLY_ROLLING")
            elif self._daily_used >= self.daily:
                refusal = _rate_body("daily", "DAILY")
            elif len(self._burst) >= self.per_10s:
                refusal = _rate_body("ten_secondly_rolling", "TEN_SECONDLY_ROLLING")
            else:
                self._burst.append(now)
                self._daily_used += 1
            return Verdict(refusal, self._headers())

    def _admit_search(self, now: float) -> dict[str, Any] | None:
        while self._search and self._search[0] <= now - 1.0:
            self._search.popleft()
        if len(self._search) >= self.search_per_s:
            # Search 429s say "secondly" (hubspot-api-nodejs #256); policy name as reported there
            return _rate_body("secondly", "SECONDLY")
        self._search.append(now)
        return None

    def _headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.per_10s - len(self._burst))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._daily_used)),
        }

    def fail_now(self) -> bool:
        """True when an injected 5xx should answer this request."""
        with self._lock:
            if self.faults.error_burst > 0:
                self.faults.error_burst -= 1
                return True
            return self.faults.error_rate > 0 and self._random.random() < self.faults.error_rate

    def set_faults(self, error_rate: float | None = None, latency_ms: int | None = None,
                   rate_limit_burst: int | None = None, error_status: int | None = None,
                   error_burst: int | None = None) -> Faults:
        """Change the injected faults; None leaves one as it is."""
        with self._lock:
            if error_burst is not None:
                self.faults.error_burst = max(0, int(error_burst))
            if error_status is not None:
                if int(error_status) not in SERVER_ERROR_CATEGORIES:
                    raise ValueError("error_status must be one of "
                                     f"{sorted(SERVER_ERROR_CATEGORIES)}")
                self.faults.error_status = int(error_status)
            if error_rate is not None:
                self.faults.error_rate = min(1.0, max(0.0, float(error_rate)))
            if latency_ms is not None:
                self.faults.latency_ms = max(0, int(latency_ms))
            if rate_limit_burst is not None:
                self.faults.rate_limit_burst = max(0, int(rate_limit_burst))
            return Faults(**vars(self.faults))

    def reset(self) -> None:
        """Forget counted requests and faults."""
        with self._lock:
            self.faults = Faults()
            self._burst.clear()
            self._search.clear()
            self._daily_used = 0


def _rate_body(window: str, policy: str) -> dict[str, Any]:
    return error_body(None, f"You have reached your {window} limit.", errorType="RATE_LIMIT",
                      policyName=policy, groupName="publicapi:private-app:sandbox")


class Stats:
    """Requests by route, answers by status, API contact writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.status: Counter[str] = Counter()
        self.writes = 0

    def count(self, route: str, status: int) -> None:
        """Count one answered API request."""
        with self._lock:
            self.requests[route] += 1
            self.status[str(status)] += 1

    def add_writes(self, records: int) -> None:
        """Count contact records written by one API request."""
        with self._lock:
            self.writes += records

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON."""
        with self._lock:
            return {"requests": dict(self.requests), "status": dict(self.status),
                    "writes": self.writes}

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.requests.clear()
            self.status.clear()
            self.writes = 0
