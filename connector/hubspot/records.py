"""What HubSpot answers, as plain records the rest of the connector reads (no SDK types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Contact:
    """A HubSpot contact as the API returns it: every property value a string or None."""

    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False


@dataclass
class UpdateResult:
    """Outcome of a batch update: ids written, and per-id errors from a 207."""

    updated: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
