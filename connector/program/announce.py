"""Telling HubSpot what the program decided: the contact's own properties, and outbox items
for the other contacts a decision touches (the advocate when a friend signs up or converts,
a reward's recipient when a person approves it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, Referral, RewardLedger
from connector.program.context import PageContext
from connector.program.counters import (
    EARNED,
    Counters,
    counter_properties,
    counters_for,
    number_text,
)
from connector.program.dates import aware, hubspot_time
from connector.program.enrollment import (
    enroll_other_contact,
    trigger_properties,
)
from connector.program.journey import journey_status
from connector.program.notes import (
    queue_conversion,
    queue_payment,
    queue_referral,
    queue_reward,
)
from connector.program.setup import ProgramSetup
from connector.queue.outbox import enqueue


def standing_properties(session: Session, setup: ProgramSetup, state: ContactState,
                        *, tier: str | None = None, opted_out: bool | None = None,
                        counters: Counters | None = None) -> dict[str, str]:
    """Counters and referral status of a contact, its journey state updated on the way."""
    schema = setup.property_schema
    if counters is None:
        counters = counters_for(session, state.contact_id)
    if opted_out is None:
        opted_out = state.journey_state == "opted_out"
    state.journey_state = journey_status(state, counters, tier=tier or state.tier or "",
                                         opted_out=opted_out)
    props: dict[str, str] = {}
    if state.referral_code or counters.made:
        props.update(counter_properties(schema, counters))
    elif counters.earned:
        props[schema.name("referral_rewards_earned")] = number_text(counters.earned)
    if state.journey_state != "none":
        props[schema.name("referral_status")] = state.journey_state
    return props


def own_properties(session: Session, setup: ProgramSetup, state: ContactState, *, tier: str,
                   opted_out: bool, page: PageContext | None = None) -> dict[str, str]:
    """Everything the program wants on the contact being processed (the sync writes the diff).

    Only triggers this contact's own steps caused are returned: triggers caused by others
    travel in outbox items, so two writers never move one trigger back and forth.
    """
    program, schema = setup.program, setup.property_schema
    current = page is not None and page.knows(state.contact_id)
    counters = page.counters_of(session, state.contact_id) if page is not None else None
    props = standing_properties(session, setup, state, tier=tier, opted_out=opted_out,
                                counters=counters)
    if state.referral_code:
        props[schema.name("referral_code")] = state.referral_code
        props[schema.name("referral_link")] = program.link(state.referral_code)
    invited_at = aware(state.invited_at)
    if invited_at is not None:
        props[schema.name("referral_invited_at")] = hubspot_time(invited_at)
        props.update(trigger_properties(program, "invitation", invited_at))
    reminded_at = aware(state.reminded_at)
    if reminded_at is not None:
        props.update(trigger_properties(program, "reminder", reminded_at))
    paid_at = (page.friend_paid_at.get(state.contact_id) if page is not None and current
               else friend_paid_at(session, state.contact_id))
    if paid_at is not None:  # the reward workflow runs when the reward reached the friend
        props.update(trigger_properties(program, "reward_friend", paid_at))
    return props


def friend_paid_at(session: Session, contact_id: str) -> datetime | None:
    """When the contact's newest friend reward was paid (None: none is paid yet)."""
    friend_reward = session.scalar(
        select(RewardLedger).where(RewardLedger.contact_id == contact_id,
                                   RewardLedger.role == "friend",
                                   RewardLedger.status == "paid")
        .order_by(RewardLedger.id.desc()).limit(1))
    return aware(friend_reward.paid_at) if friend_reward is not None else None


def advocate_state(session: Session, contact_id: str) -> ContactState:
    """The advocate's state row (created when a merge or a test left none)."""
    state = session.get(ContactState, contact_id)
    if state is None:
        state = ContactState(contact_id=contact_id, journey_state="none", written={})
        session.add(state)
    return state


def announce_referral(session: Session, setup: ProgramSetup, referral: Referral,
                      now: datetime) -> None:
    """A friend signed up: the advocate's counters and status, and its friend-signed-up step;
    on both records, the referral's note and label."""
    queue_referral(session, referral, now)
    advocate = advocate_state(session, referral.advocate_contact_id)
    props = standing_properties(session, setup, advocate)
    if advocate.journey_state == "opted_out":  # counters yes, marketing no
        enqueue(session, key=f"props:referral:{advocate.contact_id}:{referral.id}",
                kind="properties", contact_id=advocate.contact_id,
                payload={"properties": props})
        return
    enroll_other_contact(session, setup.program, step="friend_signed_up",
                         contact_id=advocate.contact_id, email=advocate.email,
                         cycle=str(referral.id), at=now, properties=props)


def announce_conversion(session: Session, setup: ProgramSetup, referral: Referral,
                        rewards: list[RewardLedger]) -> None:
    """A referral converted: the advocate's counters, and the conversion's and the rewards'
    notes. The reward workflows of both wait until their rewards are paid (`announce_paid`)."""
    advocate = advocate_state(session, referral.advocate_contact_id)
    granted = {r.role: r for r in rewards if r.status in EARNED}
    converted_at = aware(referral.converted_at)
    if converted_at is not None:
        queue_conversion(session, referral, converted_at)
    if "advocate" in granted:
        announce_reward(session, setup, granted["advocate"])
    else:
        enqueue(session, key=f"props:conversion:{advocate.contact_id}:{referral.id}",
                kind="properties", contact_id=advocate.contact_id,
                payload={"properties": standing_properties(session, setup, advocate)})
    for ledger in granted.values():
        queue_reward(session, ledger, setup.program.hold_days)


def announce_reward(session: Session, setup: ProgramSetup, ledger: RewardLedger) -> None:
    """A reward was granted to a contact other than the one being processed: its counters to
    HubSpot, and its note. Its reward workflow waits until the reward is paid
    (`announce_paid`)."""
    queue_reward(session, ledger, setup.program.hold_days)
    recipient = advocate_state(session, ledger.contact_id)
    step = "reward_advocate" if ledger.role == "advocate" else "reward_friend"
    enqueue(session, key=f"props:{step}:{ledger.contact_id}:{ledger.id}", kind="properties",
            contact_id=ledger.contact_id,
            payload={"properties": standing_properties(session, setup, recipient)})


def announce_paid(session: Session, setup: ProgramSetup, ledger: RewardLedger,
                  properties: dict[str, str]) -> None:
    """A reward reached its contact: the reward workflow (trigger or v2 enrollment) and
    `properties` with the contact's counters, once per reward."""
    recipient = advocate_state(session, ledger.contact_id)
    step = "reward_advocate" if ledger.role == "advocate" else "reward_friend"
    at = aware(ledger.paid_at)
    assert at is not None
    enroll_other_contact(session, setup.program, step=step, contact_id=ledger.contact_id,
                         email=recipient.email, cycle=f"{ledger.id}.paid", at=at,
                         properties={**standing_properties(session, setup, recipient),
                                     **properties})
    queue_payment(session, ledger)  # the referral's notes say it was paid, and how
