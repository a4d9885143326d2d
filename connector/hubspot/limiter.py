"""Client-side HubSpot rate limits: a sliding-window log per budget, in memory or in PostgreSQL.

HubSpot counts private-app calls in a rolling 10-second window (burst) and search calls per
second, separately (https://developers.hubspot.com/docs/api/usage-details). A sliding-window
log admits a call only when fewer than `limit` calls were admitted in the last `window`
seconds, which is exactly the rule HubSpot enforces, so the budget can be used to the full.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, text

from connector.config import Settings
from connector.db.session import is_postgres

BURST = "burst"
SEARCH = "search"

# Our clock reads the time a slot is taken; HubSpot's the time the request arrives. Two calls
# we space exactly one window apart arrive closer only by the difference of their delays (the
# jitter, not the delay itself), so the margin is a fixed time, not a share of the window.
# Burst: 100 ms (1% of its 10 s window) also covers a process's cold first call, which can
# leave well after its slot is taken. Search: 50 ms (5% of a 1 s window); the default 4/s is
# already below HubSpot's documented 5/s, so against HubSpot the rate itself leaves slack.
# A rarer, larger jitter costs one 429, which the retry policy waits out; no call is lost.
BURST_MARGIN_S = 0.1
SEARCH_MARGIN_S = 0.05


@dataclass(frozen=True)
class Budget:
    """At most `limit` calls in any `window_s` seconds."""

    name: str
    limit: int
    window_s: float
    margin_s: float = BURST_MARGIN_S

    @property
    def padded_window_s(self) -> float:
        """The window we enforce: HubSpot's plus the safety margin for network jitter."""
        return self.window_s + self.margin_s


def budgets_from_settings(settings: Settings) -> dict[str, Budget]:
    """The burst budget (per 10 s) and the search budget (per second) the settings ask for."""
    # a fractional search rate (e.g. 2.5/s) becomes whole calls over a proportionally shorter window
    search_limit = max(1, math.floor(settings.search_rate_per_s))
    return {
        BURST: Budget(BURST, settings.rate_limit_per_10s, 10.0),
        SEARCH: Budget(SEARCH, search_limit, search_limit / settings.search_rate_per_s,
                       SEARCH_MARGIN_S),
    }


class Limiter(Protocol):
    def acquire(self, bucket: str) -> None:
        """Block until a call may be made from `bucket`, and count it."""


class MemoryLimiter:
    """Sliding-window log per budget, shared by the threads of one process."""

    def __init__(
        self, budgets: dict[str, Budget], *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._budgets = budgets
        self._clock = clock
        self._sleep = sleep
        self._taken: dict[str, deque[float]] = {name: deque() for name in budgets}
        self._lock = threading.Lock()

    def acquire(self, bucket: str) -> None:
        """Block until a call may be made from `bucket`, and count it."""
        budget = self._budgets[bucket]
        while True:
            with self._lock:
                wait = _admit(self._taken[bucket], budget, self._clock())
            if wait <= 0:
                return
            self._sleep(wait)


def _admit(taken: deque[float], budget: Budget, now: float) -> float:
    """Take a slot (return 0) or say how long to wait before the oldest slot frees."""
    window = budget.padded_window_s
    edge = now - window + 1e-9  # a wake-up exactly on time must not lose to float rounding
    while taken and taken[0] <= edge:
        taken.popleft()
    if len(taken) < budget.limit:
        taken.append(now)
        return 0.0
    return max(taken[0] + window - now, 0.001)


class PostgresLimiter:
    """Sliding-window log in `rate_limit_slot`, shared by every process of a deployment.

    Each admission is one short transaction under `pg_advisory_xact_lock(bucket)`, so
    concurrent processes are serialised per budget; timestamps come from the database's
    `clock_timestamp()`, one clock for all hosts, so skew between app hosts cannot overbook.
    """

    def __init__(
        self, engine: Engine, budgets: dict[str, Budget], *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._engine = engine
        self._budgets = budgets
        self._sleep = sleep

    def acquire(self, bucket: str) -> None:
        """Block until a call may be made from `bucket`, and record it in the shared log."""
        budget = self._budgets[bucket]
        while True:
            wait = self._try_admit(budget)
            if wait <= 0:
                return
            self._sleep(wait)

    def _try_admit(self, budget: Budget) -> float:
        window = budget.padded_window_s
        with self._engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": _lock_key(budget.name)})
            now = float(conn.execute(
                text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
            conn.execute(
                text("DELETE FROM rate_limit_slot WHERE bucket = :b AND taken_at <= :edge"),
                {"b": budget.name, "edge": now - window},
            )
            count, oldest = conn.execute(
                text("SELECT count(*), min(taken_at) FROM rate_limit_slot WHERE bucket = :b"),
                {"b": budget.name},
            ).one()
            if count < budget.limit:
                conn.execute(
                    text("INSERT INTO rate_limit_slot (bucket, taken_at) VALUES (:b, :t)"),
                    {"b": budget.name, "t": now},
                )
                return 0.0
        return max(float(oldest) + window - now, 0.001)


def _lock_key(bucket: str) -> int:
    """A stable advisory-lock key per budget, in a range other parts are unlikely to use."""
    return 0x4855_0000_0000 + zlib.crc32(f"hubspot-rate-limit:{bucket}".encode())


def build_limiter(settings: Settings, engine: Engine | None) -> Limiter:
    """Shared limiter on PostgreSQL; in-memory otherwise (SQLite serves one machine)."""
    budgets = budgets_from_settings(settings)
    if engine is not None and is_postgres(engine):
        return PostgresLimiter(engine, budgets)
    return MemoryLimiter(budgets)
