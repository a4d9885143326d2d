"""Listing inbox events and sending them back to the queue (the `connector events` commands)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from connector.db.models import InboxEvent, utcnow

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
