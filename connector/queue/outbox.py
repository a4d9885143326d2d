"""The outbox: HubSpot writes and enrollments recorded in the same transaction as their cause.

Each item is recorded once per idempotency key. Sending claims due items with a lease (a short
transaction: `processing`, attempts + 1, `next_attempt_at` = lease end; FOR UPDATE SKIP LOCKED
on PostgreSQL so workers share the outbox), calls HubSpot, then marks them `done` in a second
transaction. A process killed between the call and that commit leaves the items to be claimed
again when the lease ends (see `connector.sync.flush` for what that means per kind).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.db.models import OutboxItem
from connector.queue import leases

log = logging.getLogger(__name__)

# properties: a contact's property values; enroll: a v2 workflow enrollment; note: a Note on
# a referral's two contacts; link: their "Referred by" / "Referred" association
KINDS = ("properties", "enroll", "note", "link")
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
ERROR_CHARS = 500


def enqueue(
    session: Session, *, key: str, kind: str, contact_id: str, payload: dict[str, Any]
) -> bool:
    """Record a pending write (`properties`) or enrollment (`enroll`) once per idempotency key.

    Returns False when an item with this key already exists (nothing is added).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    exists = session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key))
    if exists is not None:
        return False
    pending = [o for o in session.new if isinstance(o, OutboxItem) and o.idempotency_key == key]
    if pending:
        return False
    session.add(OutboxItem(idempotency_key=key, kind=kind, contact_id=contact_id, payload=payload))
    return True


@dataclass(frozen=True)
class ClaimedItem:
    """An outbox item this process holds until its lease ends."""

    id: int
    kind: str
    contact_id: str
    payload: dict[str, Any]
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: exponential, capped."""
    return leases.backoff(attempts, BACKOFF_BASE_S, BACKOFF_CAP_S)


def claim_due_items(engine: Engine, *, limit: int, now: datetime) -> list[ClaimedItem]:
    """Take up to `limit` due items (pending, or processing with an expired lease)."""
    rows = leases.claim_due(
        engine, OutboxItem,
        (OutboxItem.id, OutboxItem.kind, OutboxItem.contact_id, OutboxItem.payload,
         OutboxItem.attempts),
        limit=limit, lease=LEASE, now=now, order_by=(OutboxItem.id,),
    )
    return sorted((ClaimedItem(*row) for row in rows), key=lambda item: item.id)


def mark_done(
    session: Session, ids: Sequence[int], now: datetime, *,
    payload: dict[str, Any] | None = None,
) -> None:
    """Record these items as sent (inside the caller's transaction), optionally a new payload."""
    if not ids:
        return
    values: dict[str, Any] = {"status": "done", "done_at": now, "last_error": None}
    if payload is not None:
        values["payload"] = payload
    session.execute(update(OutboxItem).where(OutboxItem.id.in_(list(ids))).values(**values))


def mark_failed(session: Session, items: Sequence[ClaimedItem], error: str,
                now: datetime) -> None:
    """Schedule a retry with backoff, or end `dead` after MAX_ATTEMPTS."""
    for item in items:
        dead = item.attempts >= MAX_ATTEMPTS
        session.execute(
            update(OutboxItem).where(OutboxItem.id == item.id).values(
                status="dead" if dead else "pending", last_error=error[:ERROR_CHARS],
                next_attempt_at=now if dead else now + backoff(item.attempts)))
        log.warning("outbox item %s (%s) failed%s: %s", item.id, item.kind,
                    ", now dead" if dead else "", error[:200])


def release(sessions: sessionmaker[Session], items: Sequence[ClaimedItem],
            now: datetime) -> None:
    """Give items back untried (the attempt does not count): HubSpot refused every call."""
    if not items:
        return
    with sessions.begin() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id.in_([i.id for i in items]))
                        .values(status="pending", next_attempt_at=now,
                                attempts=OutboxItem.attempts - 1))
