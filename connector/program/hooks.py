"""CONTRACT STUB (the referral program replaces this): what sync and worker call per contact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from connector.db.models import ContactState
    from connector.hubspot.gateway import Contact
    from connector.runtime import Runtime
    from connector.scoring.model import ReadinessScore


def required_properties(runtime: Runtime) -> list[str]:
    """HubSpot properties the program needs read on every contact (besides the mapping's)."""
    return []


def on_contact(
    session: Session, runtime: Runtime, contact: Contact, readiness: ReadinessScore,
    state: ContactState, now: datetime,
) -> dict[str, str]:
    """Advance the contact's journey; return properties (HubSpot names) to write on it.

    May add referrals, ledger rows and outbox items to `session`; the caller commits them
    with the write-back of this contact.
    """
    return {}


def on_contact_removed(
    session: Session, runtime: Runtime, contact_id: str, kind: str, merged_into: str | None,
    now: datetime,
) -> None:
    """A contact was deleted, merged away (`merged_into` the survivor) or privacy-deleted."""
