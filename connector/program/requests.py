"""Invitations a marketer's workflow asks for (the app's custom actions): whether the program
would invite a contact now and why not, and inviting it on request under the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from connector.db.models import ContactState
from connector.hubspot.records import Contact
from connector.program.announce import own_properties
from connector.program.counters import counters_for
from connector.program.hooks import TRUE_VALUES
from connector.program.journey import invitation_refusal, invite
from connector.program.setup import ProgramSetup
from connector.program.snapshots import record_snapshot
from connector.queue.outbox import enqueue
from connector.scoring.model import ReadinessScore


@dataclass(frozen=True)
class Invitation:
    """Whether an invitation would go out now (or went out), the code and link, why not."""

    eligible: bool
    code: str | None
    link: str | None
    reason: str


def _contact_facts(contact: Contact) -> tuple[str | None, bool]:
    props = contact.properties
    email = (props.get("email") or "").strip() or None
    opted_out = str(props.get("hs_email_optout") or "").strip().lower() in TRUE_VALUES
    return email, opted_out


def would_invite(session: Session, setup: ProgramSetup, contact: Contact, tier: str,
                 state: ContactState | None, now: datetime) -> Invitation:
    """The program's answer for this contact now, changing nothing."""
    email, opted_out = _contact_facts(contact)
    blank = ContactState(contact_id=contact.id, journey_state="none", written={})
    refusal = invitation_refusal(setup.program, state or blank, tier, email=email,
                                 opted_out=opted_out, counters=counters_for(session, contact.id),
                                 now=now)
    code = state.referral_code if state is not None else None
    return Invitation(refusal is None, code, setup.program.link(code) if code else None,
                      refusal or "would be invited now")


def invite_on_request(session: Session, setup: ProgramSetup, contact: Contact,
                      readiness: ReadinessScore, state: ContactState, now: datetime, *,
                      request_key: str) -> Invitation:
    """Invite the contact now when the program's rules allow it: a code (kept when it has one),
    a new invitation cycle with the score it was invited on (a snapshot, as `on_contact`
    keeps), its properties to HubSpot through the outbox. Otherwise nothing changes and the
    reason says why; an invited contact gets its code and link back."""
    tier = readiness.tier
    answer = would_invite(session, setup, contact, tier, state, now)
    if not answer.eligible:
        return answer
    email, opted_out = _contact_facts(contact)
    assert email is not None  # would_invite refuses a contact without one
    invite(session, setup.program, state, email=email, now=now)
    record_snapshot(session, contact.id, readiness, step="invitation", now=now)
    properties = own_properties(session, setup, state, tier=tier, opted_out=opted_out)
    enqueue(session, key=f"props:request:{contact.id}:{request_key}", kind="properties",
            contact_id=contact.id, payload={"properties": properties})
    code = state.referral_code
    assert code is not None
    return Invitation(True, code, setup.program.link(code), "invited")
