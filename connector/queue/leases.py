"""Leased claims on a queue table (the webhook inbox, the outbox), and retry backoff.

A claim is a short transaction that marks due rows `processing`, counts the attempt and sets
`next_attempt_at` to the lease end; a row whose lease runs out is due again, so a worker killed
mid-batch leaves its rows to be claimed by another. On PostgreSQL the claim selects with FOR
UPDATE SKIP LOCKED, so any number of workers share the queue; SQLite serves a single worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

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
