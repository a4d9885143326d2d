"""Share links: what `GET /r/<code>` decides (where the friend lands) and records (a person's
first click of the day on the link, as a keyed hash: never the address or the user agent)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Connection, Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.db.models import ContactState, ShareClick
from connector.program.codes import normalise_code

# what could be a stored code once normalised (codes are at most 16 characters)
CODE_SHAPE = re.compile(r"^[A-Z0-9]{4,16}$")
COUNTED = "counted"
MERGE_HOPS = 10


@dataclass(frozen=True)
class Visit:
    """Who a share link belongs to: `counted` (the friend lands with the code), or why not:
    `unknown`, `malformed`, `opted_out` (the advocate asked for no marketing), `removed`."""

    code: str
    outcome: str
    advocate_contact_id: str | None = None

    @property
    def landing_code(self) -> str | None:
        """The code the landing page gets; None sends the friend there without one."""
        return self.code if self.outcome == COUNTED else None


def well_formed(raw: str) -> str | None:
    """The normalised code, or None when no stored code could look like it."""
    code = normalise_code(raw)
    return code if CODE_SHAPE.match(code) else None


def resolve(session: Session | Connection, raw: str) -> Visit:
    """The advocate behind a code as attribution matches it (case and spaces ignored, merges
    followed to the surviving contact): one indexed read, none for a malformed code."""
    code = well_formed(raw)
    if code is None:
        return Visit("", "malformed")
    columns = (ContactState.contact_id, ContactState.merged_into, ContactState.deleted_at,
               ContactState.journey_state)
    row = session.execute(select(*columns).where(ContactState.referral_code == code)).first()
    for _ in range(MERGE_HOPS):
        if row is None or not row.merged_into:
            break
        row = session.execute(select(*columns).where(
            ContactState.contact_id == row.merged_into)).first()
    if row is None:
        return Visit(code, "unknown")
    if row.deleted_at is not None:
        return Visit(code, "removed", row.contact_id)
    if row.journey_state == "opted_out":
        return Visit(code, "opted_out", row.contact_id)
    return Visit(code, COUNTED, row.contact_id)


def visitor_hash(key: bytes, day: date, address: str, user_agent: str) -> str:
    """A keyed hash of one visitor on one day: the same person clicking twice that day gives
    the same value, and nothing about the person can be read back from it."""
    message = f"{day.isoformat()}\n{address}\n{user_agent}".encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def record_click(conn: Connection, visit: Visit, visitor: str, now: datetime) -> bool:
    """Record a person's click in one statement; False when this visitor already clicked this
    link today (the UNIQUE key decides, so concurrent web processes agree).

    Clicks that count nothing for an advocate are stored without their code (counted per
    outcome and day) and need no announcing.
    """
    counted = visit.outcome == COUNTED
    result = conn.execute(_click_insert(conn.dialect.name), {
        "day": now.date(), "code": visit.code if counted else "", "outcome": visit.outcome,
        "advocate_contact_id": visit.advocate_contact_id if counted else None,
        "visitor": visitor, "clicked_at": now, "announced_at": None if counted else now,
    })
    return result.scalar() is not None


@cache
def _click_insert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING into share_click, built once per dialect (building it
    per click cost a third of a millisecond)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ShareClick.__table__
    # RETURNING says whether a row went in: with an autoincrement key, PostgreSQL's row
    # count comes back as -1 through SQLAlchemy
    return insert(table).on_conflict_do_nothing(  # type: ignore[arg-type]
        index_elements=["day", "code", "visitor"]).returning(table.c.id)
