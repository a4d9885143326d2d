"""Where each sync pass stopped: `SyncCursor` rows, checkpointed with the page they cover."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import SyncCursor

INCREMENTAL = "incremental"
FULL = "full"
RETRY = "retry"  # contacts whose last write HubSpot refused: re-scored at the next pass


def load_cursor(session: Session, name: str, *, for_update: bool = False) -> SyncCursor:
    """The cursor row by name, created (unsaved until flush) when missing."""
    query = select(SyncCursor).where(SyncCursor.name == name)
    if for_update:
        query = query.with_for_update()
    cursor = session.scalar(query)
    if cursor is None:
        cursor = SyncCursor(name=name)
        session.add(cursor)
    return cursor


def retry_ids(session: Session) -> list[str]:
    """Contacts whose last write failed, to re-score first."""
    cursor = session.get(SyncCursor, RETRY)
    ids = (cursor.last_summary or {}).get("contact_ids") if cursor else None
    return [str(i) for i in ids or []]


def update_retry_ids(
    session: Session, *, settled: set[str], failed: list[str], now: datetime
) -> None:
    """Forget the contacts settled since (written, unchanged or gone); add the new failures."""
    cursor = load_cursor(session, RETRY, for_update=True)
    ids = [i for i in (cursor.last_summary or {}).get("contact_ids") or [] if i not in settled]
    merged = list(dict.fromkeys([*ids, *failed]))
    cursor.last_summary = {"contact_ids": merged}
    cursor.run_finished_at = now


def finish_run(
    session: Session, name: str, *, started: datetime, finished: datetime, status: str,
    summary: dict[str, Any],
) -> None:
    """Record how a pass ended, for `connector report` and the dashboard."""
    cursor = load_cursor(session, name)
    cursor.run_started_at = started
    cursor.run_finished_at = finished
    cursor.last_status = status
    cursor.last_summary = summary
    if status == "ok":
        cursor.last_success_at = finished
