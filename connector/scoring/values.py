"""Read HubSpot property strings defensively: numbers, instants, NPS ratings, booleans.

HubSpot sends every property value as a string: numbers as "12" or "12.0", datetimes as
ISO 8601 ("2025-03-01T12:00:00.000Z"), dates as "2025-03-01" (midnight UTC), and in some
places epoch milliseconds ("1740830400000"), booleans as "true"/"false".
(developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis)
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

DAY_S = 86_400.0
# A date up to a day ahead is clock skew or a time zone (a date-only value is midnight UTC,
# portals run up to UTC+14), so it reads as "now"; further ahead it is a data error.
FUTURE_TOLERANCE_DAYS = 1.0

_EPOCH_NAIVE = datetime(1970, 1, 1)
_LEADING_RATING = re.compile(r"\s*(\d{1,2})(?!\d)(?:\.0+)?(?![\d.])")
# Some portals label the NPS enumeration options by band instead of by number; these read
# as the lowest rating of their band so a band label never scores above what it proves.
_NPS_BAND_WORDS = {"promoter": 9, "passive": 7, "detractor": 0}
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class Malformed(ValueError):
    """A value its signal cannot read; the message is a short description, never the value."""


def as_text(raw: object) -> str:
    """A property value as the string HubSpot would send (callers may pass 9 or True)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def is_blank(raw: str) -> bool:
    """HubSpot sends "" for a cleared property: that is missing, not malformed."""
    return not raw or raw.isspace()


def parse_number(raw: str) -> float:
    """A finite number from "12", "12.0" or " 12 "; Malformed otherwise."""
    try:
        value = float(raw)
    except ValueError:
        raise Malformed("not a number") from None
    if not math.isfinite(value):
        raise Malformed("not a finite number")
    return value


def parse_instant(raw: str) -> float:
    """Epoch seconds from epoch milliseconds, an ISO datetime or a date (read as UTC)."""
    try:
        if raw.isascii() and raw.isdigit():  # epoch milliseconds, HubSpot's wire format for dates
            return int(raw) / 1000.0
        moment = datetime.fromisoformat(raw.strip())
        if moment.tzinfo is None:
            return (moment - _EPOCH_NAIVE).total_seconds()
        return moment.timestamp()
    except (ValueError, OverflowError):
        raise Malformed("not a date") from None


def instant_day(raw: str) -> float:
    """The UTC day (whole days since the epoch) of the instant in `raw`."""
    return parse_instant(raw) // DAY_S


def age_days(raw: str, today: float) -> float:
    """Whole UTC days from the instant in `raw` to `today` (a `utc_day`); tomorrow reads as 0."""
    days = today - instant_day(raw)
    if days < 0.0:
        if days < -FUTURE_TOLERANCE_DAYS:
            raise Malformed("date more than a day in the future")
        return 0.0
    return days


def parse_nps(raw: str) -> int:
    """An NPS rating 0-10 from "9", "9.0", 9, or an enumeration label like "9 - Very likely"."""
    try:
        value = float(raw)
    except ValueError:
        match = _LEADING_RATING.match(raw)
        if match is not None:
            value = float(match.group(1))
        else:
            band = _NPS_BAND_WORDS.get(raw.strip().lower())
            if band is None:
                raise Malformed("not an NPS rating 0-10") from None
            value = float(band)
    if not value.is_integer() or not 0.0 <= value <= 10.0:
        raise Malformed("not an NPS rating 0-10")
    return int(value)


def parse_boolean(raw: str) -> bool:
    """True for "true"/"yes"/"1", False for "false"/"no"/"0" (any case); Malformed otherwise."""
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Malformed("not true or false")


def format_number(value: float) -> str:
    """12.0 -> "12", 4.5 -> "4.5": how a marketer writes a count or a rating."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.1f}"


def format_duration(days: float) -> str:
    """A rounded span for a contact record: "5 days", "8 months", "2 years"."""
    whole = int(days)
    if whole < 60:
        return "1 day" if whole == 1 else f"{whole} days"
    if whole < 730:
        return f"{whole // 30} months"
    return f"{whole // 365} years"


def format_ago(days: float) -> str:
    """"today", "yesterday", "12 days ago", "3 months ago"."""
    whole = int(days)
    if whole == 0:
        return "today"
    if whole == 1:
        return "yesterday"
    return f"{format_duration(days)} ago"


def utc_day(now: datetime) -> float:
    """Whole UTC days since the epoch at `now`; a naive datetime is read as UTC.

    Scoring measures every age in whole UTC days: a score that decays with time then
    moves once a day, at midnight UTC, so two syncs on the same day write the same values
    and the second writes nothing (a per-second age would move "x0.95 (+29)" to "(+28)"
    between any two passes and cost a write, a workflow trigger and an audit row).
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.timestamp() // DAY_S
