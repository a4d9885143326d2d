"""Deletions, merges and privacy deletions: stop the journey, cancel what was not paid, keep
what was, move a merged contact's program to the survivor, and erase on request.

Each function may run again for the same removal (the worker handles events at least once):
a second run finds nothing left to move or cancel and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connector.db.models import (
    ContactState,
    OutboxItem,
    ReadinessSnapshot,
    Referral,
    RewardLedger,
    ShareClick,
)
from connector.privacy.erasure import erase_contact
from connector.program.counters import counter_properties, counters_for
from connector.program.dates import aware
from connector.program.rewards import OPEN, cancel_unpaid, cancel_unpaid_for_referral
from connector.program.setup import ProgramSetup
from connector.program.store import record_rejection
from connector.queue.outbox import enqueue

# the journey fields a merge carries to the survivor when it has none of its own
JOURNEY_FIELDS = ("invited_at", "invitations_sent", "invitation_dates", "reminded_at",
                  "reminders_sent", "journey_state")
# when two records of one person were both referred, the further one along is kept
PROGRESS = {"converted": 0, "expired": 1, "review": 2, "attributed": 2, "cancelled": 3}


def removal_kind(kind: str) -> str:
    """`merge`, `privacy` or `deletion`, from HubSpot's subscription names or ours."""
    lowered = kind.lower()
    if "merge" in lowered:
        return "merge"
    return "privacy" if "privacy" in lowered else "deletion"


def remove_contact(session: Session, setup: ProgramSetup, contact_id: str, *, kind: str,
                   merged_into: str | None, now: datetime) -> None:
    """Apply a deletion, privacy deletion or merge of `contact_id` to the program's records."""
    kind = removal_kind(kind)
    contact_id = str(contact_id)
    state = session.get(ContactState, contact_id)
    drop_pending_writes(session, contact_id, reason=f"contact {kind}")
    if kind == "merge" and merged_into and str(merged_into) != contact_id:
        merge_into(session, setup, contact_id, str(merged_into), state, now)
        return
    if state is not None:
        state.deleted_at = state.deleted_at or now
        state.journey_state = "paused"
    reason = "contact deleted" if kind == "deletion" else "contact privacy-deleted"
    # a friend deleted inside the hold undoes its conversion: the advocate's reward goes too
    # (an erasure request does not: the conversion happened, only the person's data goes)
    converted = [] if kind != "deletion" else session.scalars(select(Referral).where(
        Referral.referred_contact_id == contact_id, Referral.status == "converted")).all()
    for referral in converted:
        if cancel_unpaid_for_referral(session, referral, reason, now, program=setup.program):
            push_counters(session, setup, referral.advocate_contact_id,
                          key=f"props:removed-friend:{referral.id}")
    cancel_unpaid(session, reason, now, contact_id=contact_id)
    advocates = set()
    for referral in session.scalars(select(Referral).where(
            Referral.referred_contact_id == contact_id, Referral.status.in_(OPEN))):
        referral.status = "cancelled"
        referral.review_reason = "referred contact deleted before converting"
        advocates.add(referral.advocate_contact_id)
        push_counters(session, setup, referral.advocate_contact_id,
                      key=f"props:removed-friend:{referral.id}")
    if kind == "privacy":
        erase_contact(session, contact_id, now=now)


def drop_pending_writes(session: Session, contact_id: str, *, reason: str) -> None:
    """Writes, enrollments and reminders for a contact that is gone would only fail: drop them."""
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.contact_id == contact_id, OutboxItem.status == "pending")
        .values(status="dropped", last_error=reason)
        .execution_options(synchronize_session=False))


def push_counters(session: Session, setup: ProgramSetup, contact_id: str, *, key: str,
                  extra: dict[str, str] | None = None) -> None:
    """Queue the contact's counters, recomputed from referrals and ledger, for HubSpot."""
    state = session.get(ContactState, contact_id)
    if state is None or state.deleted_at is not None or state.merged_into:
        return
    session.flush()  # the counters read the moves made so far
    props = counter_properties(setup.property_schema, counters_for(session, contact_id))
    props.update(extra or {})
    enqueue(session, key=key, kind="properties", contact_id=contact_id,
            payload={"properties": props})


def merge_into(session: Session, setup: ProgramSetup, loser_id: str, survivor_id: str,
               loser: ContactState | None, now: datetime) -> None:
    """Move the loser's code, journey, referrals and rewards to the survivor."""
    survivor = session.get(ContactState, survivor_id)
    if survivor is None:
        survivor = ContactState(contact_id=survivor_id, journey_state="none", written={})
        session.add(survivor)
    if loser is not None:
        if loser.referral_code and not survivor.referral_code:
            code, loser.referral_code = loser.referral_code, None
            session.flush()  # free the UNIQUE code before the survivor takes it
            survivor.referral_code = code
        if survivor.invited_at is None and loser.invited_at is not None:
            for name in JOURNEY_FIELDS:
                setattr(survivor, name, getattr(loser, name))
        survivor.email = survivor.email or loser.email
        shared = [m for m in (aware(survivor.shared_at), aware(loser.shared_at)) if m]
        survivor.shared_at = min(shared, default=None)
        # a code left on the loser (the survivor had its own) still resolves to the survivor
        loser.merged_into = survivor_id
        loser.journey_state = "none"
    session.execute(update(Referral).where(Referral.advocate_contact_id == loser_id)
                    .values(advocate_contact_id=survivor_id)
                    .execution_options(synchronize_session=False))
    session.execute(update(RewardLedger).where(RewardLedger.contact_id == loser_id)
                    .values(contact_id=survivor_id)
                    .execution_options(synchronize_session=False))
    # the loser's asks and what came of them (its referrals, moved above) stay together
    session.execute(update(ReadinessSnapshot).where(ReadinessSnapshot.contact_id == loser_id)
                    .values(contact_id=survivor_id)
                    .execution_options(synchronize_session=False))
    # the loser's share-link clicks count for the survivor, announced again with its own
    session.execute(update(ShareClick).where(ShareClick.advocate_contact_id == loser_id)
                    .values(advocate_contact_id=survivor_id, announced_at=None)
                    .execution_options(synchronize_session=False))
    dropped_advocate = move_referred(session, loser_id, survivor_id, now)
    session.flush()
    extra = {}
    if survivor.referral_code:
        schema = setup.property_schema
        extra = {schema.name("referral_code"): survivor.referral_code,
                 schema.name("referral_link"): setup.program.link(survivor.referral_code)}
    push_counters(session, setup, survivor_id, key=f"props:merge:{survivor_id}:{loser_id}",
                  extra=extra)
    if dropped_advocate and dropped_advocate != survivor_id:
        push_counters(session, setup, dropped_advocate,
                      key=f"props:merge-duplicate:{dropped_advocate}:{loser_id}")


def move_referred(session: Session, loser_id: str, survivor_id: str,
                  now: datetime) -> str | None:
    """Give the survivor one referral when the loser or both records were referred.

    Two referrals of one person: the one further along (converted first, then the earliest
    attributed) is kept; the other is cancelled and recorded as a `duplicate_contact`
    rejection, so the person never earns twice. A referral whose advocate is now the referred
    person itself is a `self_referral`. Returns the advocate of a dropped referral, if any.
    """
    rows = list(session.scalars(select(Referral).where(
        or_(Referral.referred_contact_id == loser_id,
            Referral.referred_contact_id == survivor_id))))
    mine = next((r for r in rows if r.referred_contact_id == survivor_id), None)
    theirs = next((r for r in rows if r.referred_contact_id == loser_id), None)
    for referral in (mine, theirs):
        if referral is not None and referral.advocate_contact_id == survivor_id:
            drop(session, referral, "self_referral", now)
    if theirs is None:
        return None
    if mine is None:
        theirs.referred_contact_id = survivor_id
        return None
    kept, other = sorted((mine, theirs), key=lambda r: (PROGRESS.get(r.status, 3),
                                                         r.attributed_at, r.id))
    if kept is theirs:  # swap the ids through a placeholder: the column is UNIQUE
        theirs.referred_contact_id = f"merging:{theirs.id}"[:32]
        session.flush()
        mine.referred_contact_id = loser_id
        session.flush()
        theirs.referred_contact_id = survivor_id
        session.flush()
    if other.status == "cancelled" and (other.review_reason or "").startswith("self_referral"):
        return None
    drop(session, other, "duplicate_contact", now)
    record_rejection(session, contact_id=survivor_id, code=other.code,
                     reason="duplicate_contact", advocate_id=other.advocate_contact_id)
    return other.advocate_contact_id


def drop(session: Session, referral: Referral, reason: str, now: datetime) -> None:
    """Cancel a referral a merge made invalid, and its rewards not paid yet."""
    if referral.status != "cancelled":
        referral.status = "cancelled"
        referral.review_reason = f"{reason}: contact merged"
    cancel_unpaid(session, f"{reason}: contact merged", now, referral_id=referral.id)
