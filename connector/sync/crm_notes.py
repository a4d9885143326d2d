"""Sending a referral's notes and labels from the outbox (see connector.program.notes).

Notes go in batch creates, worded with the names HubSpot shows. HubSpot has no idempotency key
for creates, so an item tried before (a failed call, or a process killed before it marked the
item done) first looks among its contact's notes for the mark its note ends with: a note is
made once across retries. Labels are links, which HubSpot makes idempotently.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from connector.db.models import AuditLog
from connector.errors import UserError
from connector.hubspot.notes import (
    NewNote,
    create_notes,
    display_names,
    link_referrals,
    note_bodies,
    referral_label,
)
from connector.program.notes import marked, note_text
from connector.queue.outbox import ClaimedItem, mark_done, mark_failed

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)


def _fail(runtime: Runtime, items: list[ClaimedItem], exc: Exception, now: datetime) -> None:
    with runtime.sessions.begin() as session:
        mark_failed(session, items, f"{type(exc).__name__}: {exc}", now)


def _done(runtime: Runtime, items: list[ClaimedItem], now: datetime, action: str,
          skipped: str | None = None) -> None:
    with runtime.sessions.begin() as session:
        for item in items:
            payload = {**item.payload, "skipped": skipped} if skipped else None
            mark_done(session, [item.id], now, payload=payload)
            if not skipped:
                session.add(AuditLog(contact_id=item.contact_id, action=action, reason="outbox",
                                     changes={action: [None, item.payload.get("key") or
                                                       item.payload.get("friend")]}))


def flush_notes(runtime: Runtime, items: list[ClaimedItem], now: datetime) -> int:
    """Create the items' notes (100 per call) on both contacts; returns the items done."""
    gateway = runtime.gateway
    ids = {str(i.payload.get(role)) for i in items for role in ("advocate", "friend")}
    try:
        names = display_names(gateway, sorted(ids))
        waiting, found, gone = [], [], []
        bodies: dict[str, list[str]] = {}
        for item in items:
            contacts = tuple(c for c in (str(item.payload.get("advocate")),
                                         str(item.payload.get("friend"))) if c in names)
            if not contacts:
                gone.append(item)
                continue
            if item.attempts > 1:  # tried before: the note may exist already
                if contacts[0] not in bodies:
                    bodies[contacts[0]] = note_bodies(gateway, contacts[0])
                key = str(item.payload.get("key"))
                if any(marked(body, key) for body in bodies[contacts[0]]):
                    found.append(item)
                    continue
            waiting.append((item, NewNote(note_text(item.payload, names),
                                          str(item.payload.get("at")), contacts)))
        if waiting:
            create_notes(gateway, [note for _, note in waiting])
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - retried with backoff, marks prevent doubles
        _fail(runtime, items, exc, now)
        return 0
    _done(runtime, [item for item, _ in waiting], now, "note")
    _done(runtime, found, now, "note")
    _done(runtime, gone, now, "note", skipped="both contacts are gone from HubSpot")
    return len(items)


def flush_links(runtime: Runtime, items: list[ClaimedItem], now: datetime) -> int:
    """Label each item's friend and advocate; without the label in the portal, skip them."""
    gateway = runtime.gateway
    try:
        type_id = referral_label(gateway)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        _fail(runtime, items, exc, now)
        return 0
    if type_id is None:
        # `connector install` said so; the referral itself is counted all the same
        _done(runtime, items, now, "link", skipped="no Referred by label in this portal")
        return len(items)
    return _link(runtime, items, type_id, now)


def _link(runtime: Runtime, items: list[ClaimedItem], type_id: int, now: datetime) -> int:
    pairs = [(str(i.payload.get("friend")), str(i.payload.get("advocate"))) for i in items]
    try:
        link_referrals(runtime.gateway, pairs, type_id)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad pair fails the batch: try one by one
        if len(items) == 1:
            _fail(runtime, items, exc, now)
            return 0
        return sum(_link(runtime, [item], type_id, now) for item in items)
    _done(runtime, items, now, "link")
    return len(items)
