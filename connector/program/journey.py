"""The advocate's own journey: invite, remind, stop asking; its status derived from facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.db.models import ContactState, OutboxItem
from connector.program.codes import unused_code
from connector.program.config import ProgramConfig
from connector.program.counters import Counters
from connector.program.dates import aware, parse_time
from connector.program.enrollment import enqueue_enrollment

TIER_RANK = {"champion": 0, "ready": 1, "nurture": 2, "not_ready": 3, "excluded": 4}
YEAR = timedelta(days=365)


def recent_invitations(state: ContactState, now: datetime) -> list[str]:
    """ISO dates of the invitations of the last 365 days (the ask-fatigue window)."""
    kept = []
    for raw in state.invitation_dates or []:
        moment = parse_time(raw)
        if moment is not None and now - moment < YEAR:
            kept.append(str(raw))
    return kept


def can_invite(program: ProgramConfig, state: ContactState, tier: str, *, email: str | None,
               opted_out: bool, counters: Counters, now: datetime) -> bool:
    """Tier high enough, consent, outside the cooldown, under the yearly cap, not yet joined."""
    return invitation_refusal(program, state, tier, email=email, opted_out=opted_out,
                              counters=counters, now=now) is None


def invitation_refusal(program: ProgramConfig, state: ContactState, tier: str, *,
                       email: str | None, opted_out: bool, counters: Counters,
                       now: datetime) -> str | None:
    """Why the program would not invite the contact now, in words; None when it would."""
    if tier == "excluded":
        return "excluded by a guardrail"
    if TIER_RANK.get(tier, 99) > TIER_RANK[program.min_tier]:
        return f"tier {tier or 'unknown'} is below the program's minimum ({program.min_tier})"
    if opted_out:
        return "opted out of email"
    if not email:
        return "no email address"
    if counters.made > 0:  # already in the program: it refers, nobody needs to ask again
        return "already referring"
    invited_at = aware(state.invited_at)
    if invited_at is not None and now - invited_at < timedelta(days=program.cooldown_days):
        return (f"invited on {invited_at.date().isoformat()}: inside the "
                f"{program.cooldown_days}-day cooldown")
    if len(recent_invitations(state, now)) >= program.max_invitations_per_year:
        return f"already invited {program.max_invitations_per_year} times in the last 365 days"
    return None


def invite(session: Session, program: ProgramConfig, state: ContactState, *,
           email: str, now: datetime,
           code_source: Callable[[Session], str] = unused_code) -> None:
    """Give the contact a code (once), start a new invitation cycle and enroll it."""
    if not state.referral_code:
        state.referral_code = code_source(session)
    state.email = email
    state.invited_at = now
    state.invitations_sent = (state.invitations_sent or 0) + 1
    state.invitation_dates = [*recent_invitations(state, now), now.isoformat()]
    state.reminders_sent = 0
    state.reminded_at = None
    enqueue_enrollment(session, program, step="invitation", contact_id=state.contact_id,
                       email=email, cycle=str(state.invitations_sent))


def reminder_due(program: ProgramConfig, state: ContactState, *, counters: Counters,
                 now: datetime) -> bool:
    """Invited, not joined, fewer reminders than allowed, and the delay since the last ask."""
    last_ask = aware(state.reminded_at) or aware(state.invited_at)
    if last_ask is None or counters.made > 0:
        return False
    if (state.reminders_sent or 0) >= program.reminder_count:
        return False
    return now - last_ask >= timedelta(days=program.reminder_delay_days)


def remind(session: Session, program: ProgramConfig, state: ContactState, *,
           email: str | None, now: datetime) -> None:
    """Record one more reminder of the current invitation and enroll the contact for it."""
    state.reminders_sent = (state.reminders_sent or 0) + 1
    state.reminded_at = now
    enqueue_enrollment(session, program, step="reminder", contact_id=state.contact_id,
                       email=email or state.email,
                       cycle=f"{state.invitations_sent or 0}.{state.reminders_sent}")


def stop_asking(session: Session, contact_id: str) -> int:
    """Drop invitations and reminders still waiting in the outbox for this contact."""
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.contact_id == contact_id, OutboxItem.status == "pending",
               OutboxItem.kind == "enroll",
               OutboxItem.idempotency_key.like("enroll:invitation:%")
               | OutboxItem.idempotency_key.like("enroll:reminder:%"))
        .values(status="dropped", last_error="contact excluded or opted out")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def journey_status(state: ContactState, counters: Counters, *, tier: str,
                   opted_out: bool) -> str:
    """none, invited, reminded, shared, joined, active, paused or opted_out, from what is
    known (`shared`: a person clicked the advocate's share link; nobody signed up yet)."""
    in_program = state.invited_at is not None or counters.made > 0
    if not in_program:
        return "none"
    if opted_out:
        return "opted_out"
    if tier == "excluded" or state.deleted_at is not None:
        return "paused"
    if counters.converted > 0:
        return "active"
    if counters.made > 0:
        return "joined"
    if state.shared_at is not None:
        return "shared"
    return "reminded" if (state.reminders_sent or 0) > 0 else "invited"


def due_reminders(session: Session, program: ProgramConfig, now: datetime) -> list[str]:
    """Contacts whose next reminder is due: the clock re-scores them so on_contact sends it."""
    cutoff = now - timedelta(days=program.reminder_delay_days)
    rows = session.scalars(
        select(ContactState.contact_id).where(
            # shared is not joined: reminders go on until a friend signs up (DESIGN.md)
            ContactState.journey_state.in_(("invited", "reminded", "shared")),
            ContactState.reminders_sent < program.reminder_count,
            ContactState.deleted_at.is_(None), ContactState.merged_into.is_(None),
            ((ContactState.reminded_at.is_(None) & (ContactState.invited_at <= cutoff))
             | (ContactState.reminded_at <= cutoff)),
        )
    )
    return list(rows)
