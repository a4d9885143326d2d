"""What the sync and the webhook worker call for every contact they process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from connector.program.announce import announce_conversion, announce_referral, own_properties
from connector.program.attribution import attribute, claim_of
from connector.program.context import PageContext
from connector.program.context import prepare_page as load_page
from connector.program.counters import counters_for
from connector.program.dates import aware
from connector.program.journey import can_invite, invite, remind, reminder_due, stop_asking
from connector.program.removal import remove_contact
from connector.program.rewards import (
    OPEN,
    cancel_unpaid_for_referral,
    convert,
    lock_referral,
    release_held,
)
from connector.program.snapshots import record_snapshot

if TYPE_CHECKING:
    from connector.db.models import ContactState, Referral
    from connector.hubspot.records import Contact
    from connector.program.config import ProgramConfig
    from connector.program.setup import ProgramSetup
    from connector.scoring.model import ReadinessScore

# HubSpot's own contact properties the program reads
OWN_PROPERTIES = ["email", "createdate", "lifecyclestage", "hs_lifecyclestage_customer_date",
                  "hs_email_optout"]
TRUE_VALUES = ("true", "1", "yes")
# HubSpot's default lifecycle stages before `customer`: a converted friend set back to one
# of them has undone its conversion
# (knowledge.hubspot.com/records/use-lifecycle-stages)
STAGES_BEFORE_CUSTOMER = frozenset({"subscriber", "lead", "marketingqualifiedlead",
                                    "salesqualifiedlead", "opportunity"})


def required_properties(setup: ProgramSetup) -> list[str]:
    """HubSpot properties the program needs read on every contact (besides the mapping's)."""
    return [*OWN_PROPERTIES, setup.property_schema.name("referred_by_code"),
            setup.program.revenue_property]


def prepare_page(session: Session, setup: ProgramSetup, contacts: Sequence[Contact],
                 now: datetime) -> PageContext:
    """Release the page's rewards whose hold is over, then load what on_contact needs."""
    ids = [c.id for c in contacts]
    release_held(session, setup.program, aware(now) or now, contact_ids=ids)
    return load_page(session, ids)


def on_contact(
    session: Session, setup: ProgramSetup, contact: Contact, readiness: ReadinessScore,
    state: ContactState, now: datetime, page: PageContext | None = None,
) -> dict[str, str]:
    """Advance the contact's journey; return properties (HubSpot names) to write on it.

    May add referrals, ledger rows and outbox items to `session`; the caller commits them
    with the write-back of this contact. Running it again on the same facts changes nothing.
    `page` (from prepare_page) answers most questions without a query.
    """
    program = setup.program
    now = aware(now) or now
    props = contact.properties
    email = (props.get("email") or "").strip() or None
    opted_out = str(props.get("hs_email_optout") or "").strip().lower() in TRUE_VALUES
    claim = claim_of(contact, setup.property_schema.name("referred_by_code"),
                     program.revenue_property)
    if page is None:  # a page releases its contacts' ended holds in one statement
        release_held(session, program, now, contact_ids=[contact.id])

    referral, is_new = attribute(session, program, claim, now, page=page)
    if is_new and referral is not None:
        state.email = email
        announce_referral(session, setup, referral, now)
        touched(page, referral)
    if (referral is not None and referral.status in OPEN
            and program.conversion_mode == "lifecycle_stage"  # else deals convert (deals.py)
            and claim.stage == program.conversion_stage):
        locked = lock_referral(session, contact.id)
        if locked is not None:
            rewards = convert(session, program, locked, converted_at=claim.customer_at or now,
                              now=now, revenue=claim.revenue)
            touched(page, locked)
            if locked.status == "converted" and rewards:
                state.email = email or state.email
                announce_conversion(session, setup, locked, rewards)
    elif (referral is not None and referral.status == "converted"
          and program.conversion_mode == "lifecycle_stage"
          and claim.stage in STAGES_BEFORE_CUSTOMER):
        # the conversion was undone: rewards still in their hold are cancelled
        if cancel_unpaid_for_referral(session, referral,
                                      f"lifecycle stage regressed to {claim.stage}", now,
                                      program=program):
            touched(page, referral)

    counters = page.counters_of(session, contact.id) if page else counters_for(session, contact.id)
    friend_waiting = referral is not None and is_fresh_friend(program, referral, now)
    if readiness.tier == "excluded" or opted_out:
        if state.invited_at is not None:
            stop_asking(session, contact.id)
    elif not friend_waiting and can_invite(program, state, readiness.tier, email=email,
                                           opted_out=opted_out, counters=counters, now=now):
        assert email is not None
        invite(session, program, state, email=email, now=now,
               **({"code_source": page.unused_code} if page is not None else {}))
        record_snapshot(session, contact.id, readiness, step="invitation", now=now)
    elif state.invited_at is not None and reminder_due(program, state, counters=counters,
                                                       now=now):
        remind(session, program, state, email=email, now=now)
        record_snapshot(session, contact.id, readiness, step="reminder", now=now)
    if state.invited_at is not None and email:
        state.email = email  # kept fresh for api-mode enrollment and self-referral checks
    return own_properties(session, setup, state, tier=readiness.tier, opted_out=opted_out,
                          page=page)


def is_fresh_friend(program: ProgramConfig, referral: Referral, now: datetime) -> bool:
    """A referred contact is not asked to refer while its referral is open, nor within the
    invitation cooldown after converting: its only workflow then is the friend reward."""
    if referral.status in OPEN:
        return True
    converted_at = aware(referral.converted_at)
    return (referral.status == "converted" and converted_at is not None
            and now - converted_at < timedelta(days=program.cooldown_days))


def touched(page: PageContext | None, referral: Referral) -> None:
    """The referral's two contacts changed: the page's answers about them are stale."""
    if page is not None:
        page.touched(referral.advocate_contact_id, referral.referred_contact_id)


def on_contact_removed(
    session: Session, setup: ProgramSetup, contact_id: str, kind: str, merged_into: str | None,
    now: datetime,
) -> None:
    """A contact was deleted, merged away (`merged_into` the survivor) or privacy-deleted."""
    remove_contact(session, setup, contact_id, kind=kind, merged_into=merged_into,
                   now=aware(now) or now)

