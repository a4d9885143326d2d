"""Claiming inbox events for one worker, and recording how handling them ended.

Why leases rather than row locks held for the whole batch: handling calls HubSpot for seconds
and `rescore_contacts` commits in its own transactions, so a batch cannot be one transaction
anyway; and on SQLite a long write transaction would block the receiver's inserts (and its
204s). So a claim is a short transaction that marks rows `processing` with a lease; for a
`processing` row `next_attempt_at` is when the lease expires. A worker killed mid-batch (even
by SIGKILL) leaves its rows to expire and be claimed again: handled at least once, and the
effects downstream (diff write-back, outbox keys, ledger uniques) are idempotent. On PostgreSQL
the claim selects with FOR UPDATE SKIP LOCKED, so any number of workers share the inbox and a
row is claimed by one of them; SQLite serves a single worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from connector.db import leases
from connector.db.models import InboxEvent

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 3600.0


@dataclass(frozen=True)
class ClaimedEvent:
    """An inbox event this worker now holds, with its attempt number (1 = first)."""

    id: int
    source: str
    subscription_type: str | None
    object_id: str | None
    payload: dict[str, Any]
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: exponential, capped."""
    return leases.backoff(attempts, BACKOFF_BASE_S, BACKOFF_CAP_S)


def claim_due_events(
    engine: Engine, *, limit: int, lease: timedelta, now: datetime,
) -> list[ClaimedEvent]:
    """Take up to `limit` due events (pending, or processing with an expired lease)."""
    rows = leases.claim_due(
        engine, InboxEvent,
        (InboxEvent.id, InboxEvent.source, InboxEvent.subscription_type, InboxEvent.object_id,
         InboxEvent.payload, InboxEvent.attempts),
        limit=limit, lease=lease, now=now,
        order_by=(InboxEvent.next_attempt_at, InboxEvent.id),
    )
    return sorted((ClaimedEvent(*row) for row in rows), key=lambda e: e.id)


def mark_done(conn: Any, ids: Sequence[int], now: datetime) -> None:
    """Record these events as handled (inside the caller's transaction)."""
    if ids:
        conn.execute(
            update(InboxEvent).where(InboxEvent.id.in_(list(ids)))
            .values(status="done", processed_at=now, last_error=None)
        )


def mark_failed(
    engine: Engine, events: Sequence[ClaimedEvent], error: str, now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[int]:
    """Schedule a retry with backoff, or end `dead` after `max_attempts`; return the dead ids."""
    dead = [e.id for e in events if e.attempts >= max_attempts]
    with engine.begin() as conn:
        if dead:
            conn.execute(
                update(InboxEvent).where(InboxEvent.id.in_(dead))
                .values(status="dead", last_error=error, processed_at=now)
            )
        by_delay: dict[timedelta, list[int]] = {}
        for event in events:
            if event.id not in dead:
                by_delay.setdefault(backoff(event.attempts), []).append(event.id)
        for delay, ids in by_delay.items():
            conn.execute(
                update(InboxEvent).where(InboxEvent.id.in_(ids))
                .values(status="pending", last_error=error, next_attempt_at=now + delay)
            )
    return dead


def inbox_counts(engine: Engine) -> dict[str, int]:
    """Events by status, for the metrics and the CLI."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
        ).all()
    return {status: int(n) for status, n in rows}


def prune_handled(engine: Engine, before: datetime, limit: int = 10_000) -> int:
    """Delete up to `limit` done events handled before `before`; return how many."""
    old = (
        select(InboxEvent.id)
        .where(InboxEvent.status == "done", InboxEvent.processed_at < before)
        .order_by(InboxEvent.id).limit(limit)
    )
    with engine.begin() as conn:
        result = conn.execute(delete(InboxEvent).where(InboxEvent.id.in_(old.scalar_subquery())))
    return int(result.rowcount or 0)
