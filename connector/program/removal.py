"""Deletions and merges: stop the journey, cancel what was not paid, keep what was."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.db.models import ContactState, OutboxItem, Referral, RewardLedger
from connector.program.rewards import OPEN, cancel_unpaid
from connector.runtime import Runtime

# the journey fields a merge carries to the survivor when it has none of its own
JOURNEY_FIELDS = ("invited_at", "invitations_sent", "invitation_dates", "reminded_at",
                  "reminders_sent", "journey_state")


def removal_kind(kind: str) -> str:
    """`merge`, `privacy` or `deletion`, from HubSpot's subscription names or ours."""
    lowered = kind.lower()
    if "merge" in lowered:
        return "merge"
    return "privacy" if "privacy" in lowered else "deletion"


def remove_contact(session: Session, runtime: Runtime, contact_id: str, *, kind: str,
                   merged_into: str | None, now: datetime) -> None:
    """Apply a deletion, privacy deletion or merge of `contact_id` to the program's records."""
    kind = removal_kind(kind)
    state = session.get(ContactState, contact_id)
    drop_pending_writes(session, contact_id, reason=f"contact {kind}")
    if kind == "merge" and merged_into and merged_into != contact_id:
        merge_into(session, contact_id, merged_into, state, now)
        return
    if state is not None:
        state.deleted_at = now
        state.journey_state = "paused"
        if kind == "privacy":
            state.email = None
    if kind == "privacy":  # enrollments carry the email: erase it from the outbox too
        session.execute(update(OutboxItem)
                        .where(OutboxItem.contact_id == contact_id, OutboxItem.kind == "enroll")
                        .values(payload={"erased": True})
                        .execution_options(synchronize_session=False))
    reason = "contact deleted" if kind == "deletion" else "contact privacy-deleted"
    cancel_unpaid(session, reason, now, contact_id=contact_id)
    for referral in session.scalars(select(Referral).where(
            Referral.referred_contact_id == contact_id, Referral.status.in_(OPEN))):
        referral.status = "cancelled"
        referral.review_reason = "referred contact deleted before converting"


def drop_pending_writes(session: Session, contact_id: str, *, reason: str) -> None:
    """Writes and enrollments for a contact that is gone would only fail: drop them."""
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.contact_id == contact_id, OutboxItem.status == "pending")
        .values(status="dropped", last_error=reason)
        .execution_options(synchronize_session=False))


def merge_into(session: Session, loser_id: str, survivor_id: str,
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
        loser.merged_into = survivor_id  # its old code still resolves to the survivor
        loser.journey_state = "none"
    session.execute(update(Referral).where(Referral.advocate_contact_id == loser_id)
                    .values(advocate_contact_id=survivor_id)
                    .execution_options(synchronize_session=False))
    session.execute(update(RewardLedger).where(RewardLedger.contact_id == loser_id)
                    .values(contact_id=survivor_id)
                    .execution_options(synchronize_session=False))
    move_referred(session, loser_id, survivor_id, now)


def move_referred(session: Session, loser_id: str, survivor_id: str, now: datetime) -> None:
    """The loser's own referral moves to the survivor, unless that makes a duplicate or a
    self-referral (the friend and the advocate were one person): then it is cancelled."""
    referral = session.scalar(select(Referral).where(Referral.referred_contact_id == loser_id))
    if referral is None:
        return
    taken = session.scalar(select(Referral.id).where(
        Referral.referred_contact_id == survivor_id))
    if referral.advocate_contact_id == survivor_id or taken is not None:
        reason = "self_referral" if referral.advocate_contact_id == survivor_id \
            else "duplicate_contact"
        if referral.status != "cancelled":
            referral.status = "cancelled"
            referral.review_reason = f"{reason}: contact merged"
        cancel_unpaid(session, f"{reason}: contact merged", now, referral_id=referral.id)
        return
    referral.referred_contact_id = survivor_id
