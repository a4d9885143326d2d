"""Property values as HubSpot stores them: strings, with canonical dates and datetimes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """Epoch ms as HubSpot's datetime string, e.g. "2025-03-01T12:00:00.000Z"."""
    day, in_day = divmod(ms, 86_400_000)
    seconds, millis = divmod(in_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day(day)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def iso_date(ms: int) -> str:
    """Epoch ms as HubSpot's date string, e.g. "2025-03-01"."""
    return _day(ms // 86_400_000)


@lru_cache(maxsize=8192)
def _day(day: int) -> str:
    # Formatting the date part once per day keeps seeding 100,000 contacts fast
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


@lru_cache(maxsize=262_144)
def parse_time_ms(value: str) -> int | None:
    """Epoch ms from epoch-ms digits, an ISO datetime or an ISO date; None when malformed."""
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int((parsed - _EPOCH).total_seconds() * 1000)


def parse_number(value: str) -> float | None:
    """The number in a string, or None when it is not one."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number else None  # NaN is not a number HubSpot stores


def as_string(value: Any) -> str | None:
    """A client's JSON value as HubSpot keeps it: a string, or None (cleared) for null/""."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text != "" else None
