"""The webhook inbox: events stored once per key in one committed statement, claimed by workers
with a lease, marked done or retried with backoff until they are dead letters, listed and replayed.

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

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from connector.db.models import InboxEvent, utcnow
from connector.queue import leases

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


def renew_leases(engine: Engine, events: Sequence[ClaimedEvent], *, lease: timedelta,
                 now: datetime) -> int:
    """Keep these claimed events leased to this worker for `lease` from `now` (heartbeat)."""
    return leases.renew(engine, InboxEvent, [(e.id, e.attempts) for e in events],
                        lease=lease, now=now)


def release(engine: Engine, events: Sequence[ClaimedEvent], *, retry_at: datetime) -> None:
    """Give events back untried: pending again at `retry_at`, the attempt not counted (the
    failure was not theirs, e.g. HubSpot rejected the token)."""
    if not events:
        return
    with engine.begin() as conn:
        conn.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_([e.id for e in events]), InboxEvent.status == "processing")
            .values(status="pending", next_attempt_at=retry_at,
                    attempts=InboxEvent.attempts - 1)
        )


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
        return leases.status_counts(conn, InboxEvent)


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


@dataclass(slots=True)
class NewEvent:
    """One event ready for the inbox."""

    event_key: str
    event_id: str | None
    source: str
    subscription_type: str
    object_id: str | None
    occurred_at: datetime | None
    payload: dict[str, Any]
    occurred_ms: int | None = None  # HubSpot's epoch milliseconds, when that is what came


# PostgreSQL: the whole delivery is one JSON parameter, so the statement text stays the same
# for every batch (prepared and cached) instead of a fresh 1,300-parameter INSERT each time.
# HubSpot's epoch milliseconds travel as numbers (cheaper to encode than ISO strings), and
# the row fields have one-letter names: the database parses this JSON for every delivery.
_PG_INSERT = text("""
    INSERT INTO inbox_event (event_key, event_id, source, subscription_type, object_id,
                             occurred_at, payload, status, attempts, next_attempt_at, received_at)
    SELECT r.k, r.i, r.s, r.t, r.o, COALESCE(to_timestamp(r.m / 1000.0), r.a),
           r.p, 'pending', 0, :now, :now
    FROM json_to_recordset(CAST(:rows AS json)) AS r(
        k text, i text, s text, t text, o text, m bigint, a timestamptz, p json)
    ON CONFLICT (event_key) DO NOTHING
""")
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _pg_rows(events: list[NewEvent]) -> str:
    """The events as one JSON array for `_PG_INSERT`."""
    rows = [
        {"k": e.event_key, "i": e.event_id, "s": e.source, "t": e.subscription_type,
         "o": e.object_id, "m": e.occurred_ms,
         "a": e.occurred_at.isoformat() if e.occurred_ms is None and e.occurred_at else None,
         "p": e.payload}
        for e in events
    ]
    try:
        return orjson.dumps(rows).decode()
    except TypeError:  # an integer beyond 64 bits in a payload: json writes it exactly
        return _ENCODE(rows)


def _pg_insert(engine: Engine, parameters: dict[str, Any]) -> int:
    """Run `_PG_INSERT` in autocommit; the number of rows inserted."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # an INSERT's row count leaves out the rows ON CONFLICT skipped: no RETURNING needed
        return int(conn.execute(_PG_INSERT, parameters).rowcount)


def store_events(engine: Engine, events: list[NewEvent]) -> int:
    """Insert the events in one committed statement, ignoring stored duplicates; return new rows."""
    if not events:
        return 0
    now = utcnow()
    if engine.dialect.name == "postgresql":
        # one statement in autocommit: atomic on its own, and committed (flushed to the WAL)
        # before execute returns, so no BEGIN / COMMIT round trips around it
        parameters = {"rows": _pg_rows(events), "now": now}
        try:
            return _pg_insert(engine, parameters)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # a pooled connection the server dropped (restart, idle timeout; the web does not
            # ping on checkout): the pool is now invalidated, and the INSERT ignores whatever
            # of it may have committed, so one more attempt on a fresh connection is safe
            return _pg_insert(engine, parameters)
    rows: list[dict[str, Any]] = [
        {"event_key": e.event_key, "event_id": e.event_id, "source": e.source,
         "subscription_type": e.subscription_type, "object_id": e.object_id,
         "occurred_at": e.occurred_at, "payload": e.payload,
         "status": "pending", "attempts": 0, "next_attempt_at": now, "received_at": now}
        for e in events
    ]
    # SQLite: executemany with RETURNING, batched by SQLAlchemy into multi-row INSERTs; only
    # the rows actually inserted (not the duplicates) come back
    statement = (
        sqlite.insert(InboxEvent)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(InboxEvent.id)
    )
    with engine.begin() as conn:
        return len(conn.execute(statement, rows).all())


def backlog(engine: Engine) -> int:
    """Events stored and not yet handled (pending or being handled)."""
    with engine.connect() as conn:
        count = conn.scalar(
            select(func.count()).select_from(InboxEvent)
            .where(InboxEvent.status.in_(("pending", "processing")))
        )
    return int(count or 0)


STATUSES = ("pending", "processing", "done", "dead")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def list_events(
    engine: Engine, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest inbox events (optionally of one status), ids and outcome only, no payloads."""
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if status:
        query = query.where(InboxEvent.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {"id": r["id"], "event_id": r["event_id"], "source": r["source"],
         "subscription_type": r["subscription_type"], "object_id": r["object_id"],
         "status": r["status"], "attempts": r["attempts"], "last_error": r["last_error"],
         "received_at": _iso(r["received_at"]), "processed_at": _iso(r["processed_at"]),
         "next_attempt_at": _iso(r["next_attempt_at"])}
        for r in rows
    ]


def replay(engine: Engine, *, event_id: int | None = None, dead: bool = False) -> int:
    """Put one event (by inbox id) or every dead event back to pending, attempts reset."""
    if (event_id is None) == (not dead):
        raise ValueError("give an inbox id or dead=True, not both")
    statement = update(InboxEvent).values(status="pending", attempts=0, next_attempt_at=utcnow(),
                                          processed_at=None)
    if dead:
        statement = statement.where(InboxEvent.status == "dead")
    else:
        # a leased event is being handled right now; replaying it would race its worker
        statement = statement.where(InboxEvent.id == event_id,
                                    InboxEvent.status != "processing")
    with engine.begin() as conn:
        return int(conn.execute(statement).rowcount or 0)
