"""The app's custom workflow actions, answered once per HubSpot `callbackId`: the contact is
read live from HubSpot and scored on the spot (a workflow may run on a contact the connector
has never seen), the program answers, and the answer is stored with the changes it made in
one transaction, so a retried execution gets the same answer and issues nothing new."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from connector.db.models import ActionCall, ContactState
from connector.errors import UserError
from connector.program.requests import Invitation, invite_on_request, would_invite
from connector.runtime import Runtime
from connector.scoring.engine import score_contact
from connector.sync.page import read_properties
from connector.sync.states import load_states

CHECK_READINESS = "check-readiness"
INVITE = "invite"
ACTIONS = (CHECK_READINESS, INVITE)


class UnknownContact(UserError):
    """HubSpot has no such contact (deleted, or a wrong id)."""


def answer_action(runtime: Runtime, action: str, *, callback_id: str, contact_id: str,
                  now: datetime) -> dict[str, Any]:
    """HubSpot's `outputFields` for one execution; the stored ones when it ran before."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    stored = _stored(runtime, callback_id)
    if stored is not None:
        return stored
    contact = runtime.gateway.get_contact(contact_id, read_properties(runtime))
    if contact is None or contact.archived:
        raise UnknownContact(f"HubSpot has no contact {contact_id}")
    readiness = score_contact(contact.properties, runtime.mapping, now)
    try:
        with runtime.sessions() as session, session.begin():
            if action == INVITE:
                state = load_states(session, [contact.id])[contact.id]
                answer = invite_on_request(session, runtime, contact, readiness, state, now,
                                           request_key=callback_id)
                output = _invitation_fields(answer)
            else:
                known = session.get(ContactState, contact.id)  # none yet: nothing is created
                answer = would_invite(session, runtime, contact, readiness.tier, known, now)
                output = {"score": readiness.score, "tier": readiness.tier,
                          "eligible": answer.eligible, "reasons": readiness.reasons}
            session.add(ActionCall(callback_id=callback_id, action=action,
                                   contact_id=contact.id, output=output))
            # the web's HubSpot calls count in the report's 24 hours too
            runtime.gateway.record_usage(session)
    except IntegrityError:
        # the same callbackId ran at once elsewhere and committed first: its answer stands
        stored = _stored(runtime, callback_id)
        if stored is None:
            raise
        return stored
    return output


def _stored(runtime: Runtime, callback_id: str) -> dict[str, Any] | None:
    with runtime.sessions() as session:
        call = session.get(ActionCall, callback_id)
        return dict(call.output) if call is not None else None


def _invitation_fields(answer: Invitation) -> dict[str, Any]:
    return {"eligible": answer.eligible, "referral_code": answer.code or "",
            "referral_link": answer.link or "", "reason": answer.reason}
