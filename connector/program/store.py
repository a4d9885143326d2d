"""Inserts that the database makes idempotent: a conflict on a UNIQUE key inserts nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.db.models import ReferralRejection


def insert_once(session: Session, model: Any, values: dict[str, Any],
                conflict: list[str]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING; the new row's id, or None when the key existed.

    Concurrent workers rely on this: the database, not a prior SELECT, decides who wins.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(model).values(**values)
                 .on_conflict_do_nothing(index_elements=conflict).returning(model.id))
    new_id = session.scalar(statement)
    return None if new_id is None else int(new_id)


def record_rejection(session: Session, *, contact_id: str, code: str, reason: str,
                     advocate_id: str | None) -> bool:
    """Record a claim that credits nothing; the same claim and reason is recorded once."""
    new_id = insert_once(session, ReferralRejection, {
        "referred_contact_id": contact_id, "code": code[:64], "reason": reason,
        "advocate_contact_id": advocate_id,
    }, ["referred_contact_id", "code", "reason"])
    return new_id is not None
