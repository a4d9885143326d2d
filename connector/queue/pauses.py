"""Work paused for a cause outside the connector (HubSpot rejected the access token), shared
through the database so that /readyz, the dashboard and `connector report` can say why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from connector.db.models import WorkPause

HUBSPOT_TOKEN = "hubspot_token"  # noqa: S105 - the name of a pause, not a secret


def record_pause(engine: Engine, name: str, reason: str, now: datetime) -> None:
    """Say the work is paused (since when it first was) and when it was last checked."""
    with Session(engine) as session, session.begin():
        pause = session.get(WorkPause, name, with_for_update=True)
        if pause is None:
            session.add(WorkPause(name=name, reason=reason, since=now, checked_at=now))
        else:
            pause.reason, pause.checked_at = reason, now


def clear_pause(engine: Engine, name: str) -> bool:
    """The work runs again; True when it was paused."""
    with engine.begin() as conn:
        return bool(conn.execute(delete(WorkPause).where(WorkPause.name == name)).rowcount)


def active_pauses(session: Session) -> list[dict[str, Any]]:
    """Every pause in effect: name, reason, since, last checked (oldest first)."""
    return [
        {"name": p.name, "reason": p.reason, "since": p.since, "checked_at": p.checked_at}
        for p in session.scalars(select(WorkPause).order_by(WorkPause.since))
    ]
