"""Contact states by id, created for contacts seen the first time (no program imports here)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import ContactState


def load_states(session: Session, contact_ids: Sequence[str]) -> dict[str, ContactState]:
    """The contacts' states, new (unsaved until flush) for contacts seen for the first time."""
    found = {s.contact_id: s for s in session.scalars(
        select(ContactState).where(ContactState.contact_id.in_(list(contact_ids))))}
    for contact_id in contact_ids:
        if contact_id not in found:
            state = ContactState(contact_id=contact_id, written={}, journey_state="none",
                                 invitations_sent=0, reminders_sent=0)
            session.add(state)
            found[contact_id] = state
    return found
