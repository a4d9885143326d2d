"""Sending the outbox to HubSpot: property items merged per contact into batch updates (the
diff against what was last written), enrollments one v2 call each, a referral's notes in batch
creates and its labels in batch links (connector.sync.crm_notes).

A process killed between the HubSpot call and the commit that marks the items done leaves
them to be claimed again when the lease ends: property writes are then repeated with the same
values (harmless), but an enrollment is sent again, so enrollment stays at-least-once for that
window (one item wide: each enrollment commits on its own).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from connector import metrics
from connector.db.models import AuditLog
from connector.errors import UserError
from connector.queue.outbox import (
    ClaimedItem,
    claim_due_items,
    mark_done,
    mark_failed,
    release,
)
from connector.sync.crm_notes import flush_links, flush_notes
from connector.sync.states import load_states
from connector.sync.writeback import after_write, diff

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)


def flush_properties(runtime: Runtime, items: list[ClaimedItem], now: datetime) -> int:
    """Merge the items per contact, write what differs from `written` in batch updates."""
    by_contact: dict[str, list[ClaimedItem]] = defaultdict(list)
    for item in items:
        by_contact[item.contact_id].append(item)
    with runtime.sessions() as session, session.no_autoflush:
        states = load_states(session, list(by_contact))
        changes = {}
        for contact_id, group in by_contact.items():
            desired: dict[str, str] = {}
            for item in group:  # in id order: the later item's value wins
                desired.update(item.payload.get("properties") or {})
            found = diff(states[contact_id].written or {}, desired)
            if found:
                changes[contact_id] = found
        try:
            result = runtime.gateway.update_contacts(
                {cid: {name: after for name, (_b, after) in c.items()}
                 for cid, c in changes.items()}) if changes else None
        except UserError:
            session.rollback()
            release(runtime.sessions, items, now)
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the items, retried with backoff
            session.rollback()
            with runtime.sessions.begin() as failed:
                mark_failed(failed, items, f"{type(exc).__name__}: {exc}", now)
            return 0
        accepted = set(result.updated) if result else set()
        errors = result.errors if result else {}
        sent = 0
        for contact_id, group in by_contact.items():
            if contact_id in errors:
                mark_failed(session, group, errors[contact_id], now)
                continue
            if contact_id in changes and contact_id not in accepted:
                mark_failed(session, group, "not in HubSpot's answer", now)
                continue
            if contact_id in changes:
                state = states[contact_id]
                state.written = after_write(state.written or {}, changes[contact_id])
                session.add(AuditLog(contact_id=contact_id, action="write",
                                     changes=changes[contact_id], reason="outbox"))
                metrics.PROPERTIES_WRITTEN.inc(len(changes[contact_id]))
            mark_done(session, [i.id for i in group], now)
            sent += len(group)
        session.commit()
    return sent


def flush_enrollments(runtime: Runtime, items: list[ClaimedItem], now: datetime) -> int:
    """One v2 enrollment call per item; each committed on its own to narrow the repeat window."""
    sent = 0
    for index, item in enumerate(items):
        workflow_id = str(item.payload.get("workflow_id") or "")
        email = str(item.payload.get("email") or "")
        try:
            if not workflow_id or not email:
                raise ValueError("enroll item needs workflow_id and email")
            runtime.gateway.enroll(workflow_id, email)
        except UserError:
            release(runtime.sessions, items[index:], now)
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the item, retried with backoff
            with runtime.sessions.begin() as session:
                mark_failed(session, [item], f"{type(exc).__name__}: {exc}", now)
            continue
        with runtime.sessions.begin() as session:
            # the address was needed for the call only: the design keeps no emails beyond that
            mark_done(session, [item.id], now, payload={"workflow_id": workflow_id, "email": None})
            session.add(AuditLog(contact_id=item.contact_id, action="enroll",
                                 changes={"workflow_id": [None, workflow_id]}, reason="outbox"))
        sent += 1
    return sent


def flush_outbox(runtime: Runtime, limit: int = 500, *, now: datetime | None = None) -> int:
    """Send due outbox items; returns how many were made (or needed nothing any more)."""
    now = now or datetime.now(UTC)
    items = claim_due_items(runtime.engine, limit=limit, now=now)
    if not items:
        return 0
    properties = [i for i in items if i.kind == "properties"]
    enrollments = [i for i in items if i.kind == "enroll"]
    notes = [i for i in items if i.kind == "note"]
    links = [i for i in items if i.kind == "link"]
    try:
        sent = flush_properties(runtime, properties, now) if properties else 0
    except UserError:
        release(runtime.sessions, [*enrollments, *notes, *links], now)
        raise
    try:
        sent += flush_enrollments(runtime, enrollments, now)
    except UserError:
        release(runtime.sessions, [*notes, *links], now)
        raise
    try:
        sent += flush_notes(runtime, notes, now) if notes else 0
    except UserError:
        release(runtime.sessions, links, now)
        raise
    sent += flush_links(runtime, links, now) if links else 0
    log.info("outbox: %d of %d items sent", sent, len(items))
    return sent
