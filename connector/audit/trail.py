"""Reading the audit log of one contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import AuditLog


@dataclass(frozen=True)
class AuditEntry:
    """One write to a contact: when, what (property -> [before, after]), why."""

    id: int
    at: datetime | None
    action: str
    changes: dict[str, list[Any]]
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "at": self.at.isoformat() if self.at else None,
                "action": self.action, "reason": self.reason,
                "changes": {name: {"before": pair[0], "after": pair[1]}
                            for name, pair in self.changes.items()}}


def pair(value: Any) -> list[Any]:
    """[before, after] from a stored change, whatever shape an older row has."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return list(value)
    return [None, value]


def audit_trail(session: Session, contact_id: str, *, limit: int | None = None
                ) -> list[AuditEntry]:
    """The contact's writes, oldest first (the newest `limit` when given)."""
    query = (select(AuditLog).where(AuditLog.contact_id == str(contact_id))
             .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.scalars(query))
    rows.reverse()
    return [AuditEntry(row.id, row.created_at, row.action,
                       {name: pair(value) for name, value in (row.changes or {}).items()},
                       row.reason) for row in rows]


def change_text(before: Any, after: Any) -> str:
    """`before -> after`, with an empty value shown as (empty)."""
    def shown(value: Any) -> str:
        return "(empty)" if value in (None, "") else str(value)

    return f"{shown(before)} -> {shown(after)}"
