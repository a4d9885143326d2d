"""Finding and blanking given personal values wherever they sit, in any table and column."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from connector.db.models import Base

ERASED = "[erased]"
# the erasure record itself holds no personal value; scanning it would only cost time
SKIPPED_TABLES = frozenset({"erasure_log"})


def scrub_value(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` with every match of `pattern` replaced, through dicts and lists."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, dict):
        return {scrub_value(k, pattern): scrub_value(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, pattern) for v in value]
    return value


def text_columns(table: Table) -> list[Any]:
    """The columns of a table that can hold free text (strings and JSON), keys excepted."""
    return [c for c in table.columns if not c.primary_key
            and isinstance(c.type, String | Text | JSON)]


def scrub_everywhere(session: Session, values: Iterable[str]) -> dict[str, int]:
    """Replace the given values (case-insensitive) in every text and JSON column of every
    table; returns rows changed per table. Generic so that a column added later is covered."""
    needles = sorted({v.strip().lower() for v in values if v and v.strip()}, key=len,
                     reverse=True)
    if not needles:
        return {}
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    changed: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        columns = text_columns(table)
        if table.name in SKIPPED_TABLES or not columns:
            continue
        keys = list(table.primary_key.columns)
        matches = or_(*(func.lower(cast(c, Text)).contains(n, autoescape=True)
                        for c in columns for n in needles))
        rows = session.execute(select(*keys, *columns).where(matches)).all()
        for row in rows:
            key_values = row[:len(keys)]
            fresh = {c.name: scrub_value(row[len(keys) + i], pattern)
                     for i, c in enumerate(columns)}
            session.execute(update(table).where(*(k == v for k, v in zip(keys, key_values,
                                                                         strict=True)))
                            .values(**fresh))
        if rows:
            changed[table.name] = len(rows)
    return changed
