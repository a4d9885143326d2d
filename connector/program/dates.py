"""HubSpot's time values: read ISO 8601 or epoch milliseconds, write ISO 8601 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """A timezone-aware datetime from a HubSpot value (ISO 8601 or ms since epoch), else None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if not text:
        return None
    try:
        if text.isascii() and text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):  # out of datetime's range: not a time
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def hubspot_time(moment: datetime) -> str:
    """ISO 8601 with milliseconds and `Z`, the form HubSpot answers with, so diffs stay stable.

    HubSpot accepts ISO 8601 or epoch milliseconds for datetime properties
    (developers.hubspot.com/docs/api/faq, "How should I format timestamps").
    """
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def aware(moment: datetime | None) -> datetime | None:
    """The same moment with UTC attached when the database returned it naive (SQLite)."""
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=UTC)
