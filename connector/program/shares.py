"""Telling HubSpot about share-link clicks. New clicks become the advocate's
`referral_link_clicks` and `referral_last_click_at` in outbox `properties` items, which the
outbox sends merged into its batch updates (100 contacts per call, never a call per click);
an advocate's first counted click is its journey's `shared` step, enrolled once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.db.models import ContactState, ShareClick
from connector.program.announce import advocate_state, standing_properties
from connector.program.dates import aware, hubspot_time
from connector.program.enrollment import enroll_other_contact
from connector.program.links import COUNTED
from connector.program.setup import ProgramSetup
from connector.queue.outbox import enqueue

BATCH = 5000  # clicks per run; a run writes one outbox item per advocate among them


def announce_clicks(session: Session, setup: ProgramSetup, now: datetime,
                    limit: int = BATCH) -> int:
    """Queue the click counts of advocates with clicks not yet announced; returns how many
    advocates. The caller commits (and holds the pass lock, so one run at a time)."""
    rows = session.execute(
        select(ShareClick.id, ShareClick.advocate_contact_id)
        .where(ShareClick.announced_at.is_(None)).order_by(ShareClick.id).limit(limit)).all()
    if not rows:
        return 0
    advocates = follow_merges(session, {advocate for _, advocate in rows if advocate})
    totals = session.execute(
        select(ShareClick.advocate_contact_id, func.count(), func.min(ShareClick.clicked_at),
               func.max(ShareClick.clicked_at))
        .where(ShareClick.advocate_contact_id.in_(advocates), ShareClick.outcome == COUNTED)
        .group_by(ShareClick.advocate_contact_id)).all()
    for advocate_id, clicks, first, last in totals:
        announce_advocate(session, setup, str(advocate_id), int(clicks), aware(first) or now,
                          aware(last) or now)
    session.execute(update(ShareClick).where(ShareClick.id.in_([i for i, _ in rows]))
                    .values(announced_at=now).execution_options(synchronize_session=False))
    return len(totals)


def follow_merges(session: Session, advocates: set[str]) -> list[str]:
    """The advocates, with clicks recorded for a contact merged away since (a web process
    remembers a code's owner for a minute) moved to the surviving contact."""
    merged = set(session.scalars(select(ContactState.contact_id).where(
        ContactState.contact_id.in_(advocates), ContactState.merged_into.is_not(None))))
    for loser in merged:
        survivor = _survivor(session, loser)
        session.execute(update(ShareClick).where(ShareClick.advocate_contact_id == loser)
                        .values(advocate_contact_id=survivor)
                        .execution_options(synchronize_session=False))
        advocates = (advocates - {loser}) | {survivor}
    return sorted(advocates)


def _survivor(session: Session, contact_id: str) -> str:
    """The contact a merged-away one ended in (merges of merges followed, loops cut)."""
    current, seen = contact_id, set()
    while current not in seen:
        seen.add(current)
        into = session.scalar(select(ContactState.merged_into)
                              .where(ContactState.contact_id == current))
        if not into:
            return current
        current = into
    return current


def announce_advocate(session: Session, setup: ProgramSetup, advocate_id: str, clicks: int,
                      first: datetime, last: datetime) -> None:
    """One advocate's clicks so far; its first click (ever) is the `shared` step, once."""
    schema = setup.property_schema
    state = advocate_state(session, advocate_id)
    newly_shared = state.shared_at is None
    if newly_shared:
        state.shared_at = first
    props = standing_properties(session, setup, state)  # referral_status becomes `shared`
    props[schema.name("referral_link_clicks")] = str(clicks)
    props[schema.name("referral_last_click_at")] = hubspot_time(last)
    if newly_shared and state.journey_state != "opted_out":
        enroll_other_contact(session, setup.program, step="shared", contact_id=advocate_id,
                             email=state.email, cycle="first", at=first, properties=props)
        return
    # the count only grows, so each count is announced once
    enqueue(session, key=f"props:clicks:{advocate_id}:{clicks}", kind="properties",
            contact_id=advocate_id, payload={"properties": props})
