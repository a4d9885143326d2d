"""The connector's own state: sync passes, inbox and outbox backlogs, HubSpot calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import ApiUsage, InboxEvent, OutboxItem, SyncCursor
from connector.queue.leases import waiting_and_dead
from connector.queue.pauses import active_pauses

# the sync passes an admin reads; the `retry` cursor row only keeps the contacts to re-write
PASSES = ("full", "incremental")
RETRY_CURSOR = "retry"
DEAD_SHOWN = 20


def aware(moment: datetime | None) -> datetime | None:
    """A datetime in UTC; SQLite hands back naive values for what was stored in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    moment = aware(moment)
    return moment.isoformat(timespec="seconds") if moment else None


def last_successful_sync(session: Session) -> datetime | None:
    """When any sync pass last finished successfully, or None before the first one."""
    return aware(session.scalar(select(func.max(SyncCursor.last_success_at))))


def inbox_counts(session: Session) -> dict[str, int]:
    """Inbox events waiting (pending or being handled) and dead."""
    return waiting_and_dead(session, InboxEvent)


def outbox_counts(session: Session) -> dict[str, int]:
    """Outbox items (HubSpot writes and enrollments) waiting and dead."""
    return waiting_and_dead(session, OutboxItem)


def api_calls(session: Session, now: datetime) -> dict[str, int]:
    """HubSpot calls and 429 answers recorded in the `api_usage` hours of the last 24 hours."""
    since = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(ApiUsage.status, func.sum(ApiUsage.calls))
        .where(ApiUsage.hour >= since).group_by(ApiUsage.status)
    ).all()
    calls = {int(status): int(total or 0) for status, total in rows}
    return {"calls": sum(calls.values()), "rate_limited": calls.get(429, 0)}


def retry_backlog(session: Session) -> int:
    """Contacts whose last write HubSpot refused, re-scored and re-written at the next pass."""
    cursor = session.get(SyncCursor, RETRY_CURSOR)
    return len((cursor.last_summary or {}).get("contact_ids") or []) if cursor else 0


def dead_events(session: Session, limit: int = DEAD_SHOWN) -> list[dict[str, Any]]:
    """The most recent dead inbox events, with why they died (no payloads: they may hold PII)."""
    rows = session.scalars(
        select(InboxEvent).where(InboxEvent.status == "dead")
        .order_by(InboxEvent.id.desc()).limit(limit)
    ).all()
    return [
        {"id": e.id, "type": e.subscription_type, "contact_id": e.object_id,
         "attempts": e.attempts, "received_at": iso(e.received_at),
         "last_error": (e.last_error or "").splitlines()[0][:200] if e.last_error else None}
        for e in rows
    ]


def pauses(session: Session) -> list[dict[str, Any]]:
    """Work paused and why (HubSpot rejecting the token): times as ISO strings."""
    return [{**p, "since": iso(p["since"]), "checked_at": iso(p["checked_at"])}
            for p in active_pauses(session)]


def connector_state(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Sync passes, inbox, outbox and API usage: how the connector itself is doing."""
    now = now or datetime.now(UTC)
    passes = [
        {"name": c.name, "last_success_at": iso(c.last_success_at),
         "last_status": c.last_status, "run_started_at": iso(c.run_started_at),
         "run_finished_at": iso(c.run_finished_at)}
        for c in session.scalars(
            select(SyncCursor).where(SyncCursor.name.in_(PASSES)).order_by(SyncCursor.name))
    ]
    return {
        "sync": passes,
        "last_successful_sync": iso(last_successful_sync(session)),
        "retry_backlog": retry_backlog(session),
        "inbox": inbox_counts(session),
        "outbox": outbox_counts(session),
        "api_last_24h": api_calls(session, now),
        "dead_events": dead_events(session),
        "paused": pauses(session),
    }
