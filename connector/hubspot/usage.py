"""Counts of this process's HubSpot calls, for /metrics, the report and the `api_usage` table."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connector import metrics
from connector.db.models import ApiUsage


class UsageCounter:
    """Thread-safe counts by endpoint and status (0: no answer), and 429s by policy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, int]] = Counter()
        self._unsaved: Counter[tuple[str, int]] = Counter()
        self._rate_limited: Counter[str] = Counter()

    def record(self, endpoint: str, status: int, policy: str | None = None) -> None:
        """Count one attempt; `policy` is the 429's policyName."""
        with self._lock:
            self._calls[(endpoint, status)] += 1
            self._unsaved[(endpoint, status)] += 1
            if status == 429:
                self._rate_limited[policy or "UNKNOWN"] += 1
        metrics.HUBSPOT_CALLS.labels(endpoint=endpoint, status=str(status)).inc()
        if status == 429:
            metrics.HUBSPOT_RATE_LIMITED.labels(policy=policy or "UNKNOWN").inc()

    def snapshot(self) -> dict[str, Any]:
        """Calls since the process started: total, by endpoint and status, 429s by policy."""
        with self._lock:
            by_endpoint: dict[str, dict[str, int]] = {}
            for (endpoint, status), count in sorted(self._calls.items()):
                by_endpoint.setdefault(endpoint, {})[str(status)] = count
            return {
                "total": sum(self._calls.values()),
                "by_endpoint": by_endpoint,
                "rate_limited": sum(self._rate_limited.values()),
                "rate_limited_by_policy": dict(self._rate_limited),
            }

    def take_unsaved(self) -> Counter[tuple[str, int]]:
        """The counts not yet written to the database, and forget them."""
        with self._lock:
            unsaved, self._unsaved = self._unsaved, Counter()
            return unsaved

    def give_back(self, counts: Counter[tuple[str, int]]) -> None:
        """Put counts back after a failed save so the next save includes them."""
        with self._lock:
            self._unsaved.update(counts)


def record_usage(session: Session, counter: UsageCounter, now: datetime | None = None) -> int:
    """Add the calls made since the last save to this hour's `api_usage` rows; return them."""
    counts = counter.take_unsaved()
    if not counts:
        return 0
    hour = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    try:
        for (endpoint, status), calls in sorted(counts.items()):
            # an upsert, so processes saving the same hour at once add up instead of colliding
            statement = insert(ApiUsage).values(
                hour=hour, endpoint=endpoint, status=status, calls=calls
            )
            session.execute(statement.on_conflict_do_update(
                index_elements=["hour", "endpoint", "status"],
                set_={"calls": ApiUsage.calls + statement.excluded.calls},
            ))
    except Exception:
        counter.give_back(counts)
        raise
    return sum(counts.values())
