"""Leased claims on a queue table (the webhook inbox, the outbox), and retry backoff.

A claim is a short transaction that marks due rows `processing`, counts the attempt and sets
`next_attempt_at` to the lease end; a row whose lease runs out is due again, so a worker killed
mid-batch leaves its rows to be claimed by another. Leases are short and renewed (`renew`) by
the worker while it works on the rows, so a dead worker's rows are taken over within a lease
and a live one's never are. On PostgreSQL the claim selects with FOR UPDATE SKIP LOCKED, so any
number of workers share the queue; SQLite serves a single worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, tuple_, update

from connector.db.models import InboxEvent, OutboxItem


def backoff(attempts: int, base_s: float, cap_s: float) -> timedelta:
    """Delay before the next try after `attempts` failed ones: exponential from `base_s`, capped."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(attempts - 1, 0)))


def claim_due(
    engine: Engine, table: type[InboxEvent] | type[OutboxItem], columns: Sequence[Any], *,
    limit: int, lease: timedelta, now: datetime, order_by: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """Lease up to `limit` due rows (pending, or processing with an expired lease).

    Returns `columns` of the claimed rows, `attempts` already counting this claim.
    """
    due = (
        select(table.id)
        .where(table.status.in_(("pending", "processing")), table.next_attempt_at <= now)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)  # ignored on SQLite, where one worker runs
    )
    claim = (
        update(table)
        .where(table.id.in_(due.scalar_subquery()))
        .values(status="processing", next_attempt_at=now + lease, attempts=table.attempts + 1)
        .returning(*columns)
    )
    with engine.begin() as conn:
        return [tuple(row) for row in conn.execute(claim).all()]


def renew(
    engine: Engine, table: type[InboxEvent] | type[OutboxItem], claims: Sequence[tuple[int, int]],
    *, lease: timedelta, now: datetime,
) -> int:
    """Extend the lease of rows still held by these claims ((id, attempts) as claimed: a row
    claimed again by another worker since has more attempts and is left alone); how many."""
    if not claims:
        return 0
    statement = (
        update(table)
        .where(table.status == "processing",
               tuple_(table.id, table.attempts).in_([tuple(c) for c in claims]))
        .values(next_attempt_at=now + lease)
    )
    with engine.begin() as conn:
        return int(conn.execute(statement).rowcount or 0)


WAITING = ("pending", "processing")


def status_counts(conn: Any, table: type[InboxEvent] | type[OutboxItem]) -> dict[str, int]:
    """Rows of a queue table by status (on a connection or a session)."""
    rows = conn.execute(select(table.status, func.count()).group_by(table.status)).all()
    return {status: int(n) for status, n in rows}


def waiting_and_dead(conn: Any, table: type[InboxEvent] | type[OutboxItem]) -> dict[str, int]:
    """Rows waiting (pending or being handled) and dead letters."""
    by_status = status_counts(conn, table)
    return {"backlog": sum(by_status.get(s, 0) for s in WAITING),
            "dead": by_status.get("dead", 0)}
