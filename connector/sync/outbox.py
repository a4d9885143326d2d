"""The outbox: HubSpot writes and enrollments recorded in the same transaction as their cause."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import OutboxItem


def enqueue(
    session: Session, *, key: str, kind: str, contact_id: str, payload: dict[str, Any]
) -> bool:
    """Record a pending write (`properties`) or enrollment (`enroll`) once per idempotency key.

    Returns False when an item with this key already exists (nothing is added).
    """
    if kind not in ("properties", "enroll"):
        raise ValueError(f"unknown outbox kind {kind!r}")
    exists = session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key))
    if exists is not None:
        return False
    pending = [o for o in session.new if isinstance(o, OutboxItem) and o.idempotency_key == key]
    if pending:
        return False
    session.add(OutboxItem(idempotency_key=key, kind=kind, contact_id=contact_id, payload=payload))
    return True
