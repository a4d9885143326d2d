"""The outbox: HubSpot writes and enrollments recorded in the same transaction as their cause.

Flushing claims due items with a lease (a short transaction: `processing`, attempts + 1,
`next_attempt_at` = lease end; FOR UPDATE SKIP LOCKED on PostgreSQL so workers share the
outbox), calls HubSpot, then marks them `done` in a second transaction. A process killed
between the HubSpot call and that commit leaves the items to be claimed again when the lease
ends: property writes are then repeated with the same values (harmless), but an enrollment
is sent again, so enrollment stays at-least-once for that window (one item wide: each
enrollment commits on its own).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector import metrics
from connector.db import leases
from connector.db.models import AuditLog, OutboxItem
from connector.errors import UserError
from connector.sync.states import load_states
from connector.sync.writeback import after_write, diff

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
ERROR_CHARS = 500


def enqueue(
    session: Session, *, key: str, kind: str, contact_id: str, payload: dict[str, Any]
) -> bool:
    """Record a pending write (`properties`) or enrollment (`enroll`) once per idempotency key.

    Returns False when an item with this key already exists (nothing is added).
    """
    if kind not in ("properties", "enroll"):
        raise ValueError(f"unknown outbox kind {kind!r}")
    exists = session.scalar(select(OutboxItem.id).where(OutboxItem.idempotency_key == key))
    if exists is not None:
        return False
    pending = [o for o in session.new if isinstance(o, OutboxItem) and o.idempotency_key == key]
    if pending:
        return False
    session.add(OutboxItem(idempotency_key=key, kind=kind, contact_id=contact_id, payload=payload))
    return True


@dataclass(frozen=True)
class ClaimedItem:
    """An outbox item this process holds until its lease ends."""

    id: int
    kind: str
    contact_id: str
    payload: dict[str, Any]
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: exponential, capped."""
    return leases.backoff(attempts, BACKOFF_BASE_S, BACKOFF_CAP_S)


def claim_due_items(runtime: Runtime, *, limit: int, now: datetime) -> list[ClaimedItem]:
    """Take up to `limit` due items (pending, or processing with an expired lease)."""
    rows = leases.claim_due(
        runtime.engine, OutboxItem,
        (OutboxItem.id, OutboxItem.kind, OutboxItem.contact_id, OutboxItem.payload,
         OutboxItem.attempts),
        limit=limit, lease=LEASE, now=now, order_by=(OutboxItem.id,),
    )
    return sorted((ClaimedItem(*row) for row in rows), key=lambda item: item.id)


def _done(
    session: Session, ids: list[int], now: datetime, *, payload: dict[str, Any] | None = None
) -> None:
    if not ids:
        return
    values: dict[str, Any] = {"status": "done", "done_at": now, "last_error": None}
    if payload is not None:
        values["payload"] = payload
    session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(**values))


def _failed(session: Session, items: list[ClaimedItem], error: str, now: datetime) -> None:
    for item in items:
        dead = item.attempts >= MAX_ATTEMPTS
        session.execute(
            update(OutboxItem).where(OutboxItem.id == item.id).values(
                status="dead" if dead else "pending", last_error=error[:ERROR_CHARS],
                next_attempt_at=now if dead else now + backoff(item.attempts)))
        log.warning("outbox item %s (%s) failed%s: %s", item.id, item.kind,
                    ", now dead" if dead else "", error[:200])


def _release(runtime: Runtime, items: list[ClaimedItem], now: datetime) -> None:
    """Give items back untried (the attempt does not count): HubSpot refused every call."""
    if not items:
        return
    with runtime.sessions.begin() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id.in_([i.id for i in items]))
                        .values(status="pending", next_attempt_at=now,
                                attempts=OutboxItem.attempts - 1))


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
            _release(runtime, items, now)
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the items, retried with backoff
            session.rollback()
            with runtime.sessions.begin() as failed:
                _failed(failed, items, f"{type(exc).__name__}: {exc}", now)
            return 0
        accepted = set(result.updated) if result else set()
        errors = result.errors if result else {}
        sent = 0
        for contact_id, group in by_contact.items():
            if contact_id in errors:
                _failed(session, group, errors[contact_id], now)
                continue
            if contact_id in changes and contact_id not in accepted:
                _failed(session, group, "not in HubSpot's answer", now)
                continue
            if contact_id in changes:
                state = states[contact_id]
                state.written = after_write(state.written or {}, changes[contact_id])
                session.add(AuditLog(contact_id=contact_id, action="write",
                                     changes=changes[contact_id], reason="outbox"))
                metrics.PROPERTIES_WRITTEN.inc(len(changes[contact_id]))
            _done(session, [i.id for i in group], now)
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
            _release(runtime, items[index:], now)
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the item, retried with backoff
            with runtime.sessions.begin() as session:
                _failed(session, [item], f"{type(exc).__name__}: {exc}", now)
            continue
        with runtime.sessions.begin() as session:
            # the address was needed for the call only: the design keeps no emails beyond that
            _done(session, [item.id], now, payload={"workflow_id": workflow_id, "email": None})
            session.add(AuditLog(contact_id=item.contact_id, action="enroll",
                                 changes={"workflow_id": [None, workflow_id]}, reason="outbox"))
        sent += 1
    return sent


def flush_outbox(runtime: Runtime, limit: int = 500, *, now: datetime | None = None) -> int:
    """Send due outbox items; returns how many were made (or needed nothing any more)."""
    now = now or datetime.now(UTC)
    items = claim_due_items(runtime, limit=limit, now=now)
    if not items:
        return 0
    properties = [i for i in items if i.kind == "properties"]
    enrollments = [i for i in items if i.kind == "enroll"]
    try:
        sent = flush_properties(runtime, properties, now) if properties else 0
    except UserError:
        _release(runtime, enrollments, now)
        raise
    sent += flush_enrollments(runtime, enrollments, now)
    log.info("outbox: %d of %d items sent", sent, len(items))
    return sent
