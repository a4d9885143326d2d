"""CONTRACT STUB (the HubSpot layer replaces this): every CRM call the connector makes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from connector.config import Settings
from connector.errors import UserError


class DailyLimitReached(UserError):
    """HubSpot answered 429 with policyName DAILY: stop the pass, retry after midnight."""


class TokenRejected(UserError):
    """HubSpot answered 401: the access token is wrong or revoked."""


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


class HubSpotGateway:
    """Rate-limited, retried access to HubSpot through the official SDK."""

    def get_contact(self, id_or_email: str, properties: Sequence[str]) -> Contact | None:
        """One contact by id (digits) or email; None when HubSpot has no such contact."""
        raise NotImplementedError

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[Contact]:
        """Batch read in 100s; ids HubSpot does not know are absent from the result."""
        raise NotImplementedError

    def update_contacts(self, updates: Mapping[str, Mapping[str, str]]) -> UpdateResult:
        """Batch update in 100s: {contact id: {property: value}}."""
        raise NotImplementedError

    def iter_contacts(
        self, properties: Sequence[str], *, modified_since_ms: int | None = None,
        after_object_id: int | None = None,
    ) -> Iterator[list[Contact]]:
        """Search pages of up to 200, past the 10,000 cap (see the HubSpot layer)."""
        raise NotImplementedError

    def enroll(self, workflow_id: str, email: str) -> None:
        """v2 enrollment of a contact in a contact-based workflow."""
        raise NotImplementedError

    def usage(self) -> dict[str, Any]:
        """Calls made by this process: total, by endpoint and status, 429s."""
        raise NotImplementedError


def build_gateway(settings: Settings, engine: Engine | None = None) -> HubSpotGateway:
    """The one gateway of a process, pointed at HUBSPOT_BASE_URL."""
    raise NotImplementedError
