"""Draining the inbox: claim due events, apply removals, re-score contacts once per batch."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from connector import metrics
from connector.db.models import utcnow
from connector.logs import Redactor
from connector.privacy import erasure
from connector.program import hooks
from connector.queue.inbox import (
    MAX_ATTEMPTS,
    ClaimedEvent,
    claim_due_events,
    inbox_counts,
    mark_done,
    mark_failed,
)
from connector.runtime import Runtime
from connector.sync import deals, rescore
from connector.worker.plan import BatchPlan, plan_batch

log = logging.getLogger(__name__)

BATCH_SIZE = 500
LEASE = timedelta(minutes=5)
ERROR_CHARS = 500


@dataclass
class DrainSummary:
    """What one drain did: events handled, retried later, dead; contacts re-scored."""

    handled: int = 0
    retried: int = 0
    dead: int = 0
    rescored: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def describe_error(runtime: Runtime, exc: BaseException) -> str:
    """A one-line error for last_error: type and message, secrets and emails masked."""
    settings = runtime.settings
    redactor = Redactor([settings.hubspot_access_token, settings.hubspot_client_secret,
                         settings.dashboard_token, settings.workflow_webhook_key])
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return redactor.text(text)[:ERROR_CHARS]


def _apply_removals(runtime: Runtime, plan: BatchPlan, events: dict[int, ClaimedEvent],
                    summary: DrainSummary, max_attempts: int) -> set[int]:
    """Hand each removal to the program, one transaction per event; return the failed ids."""
    failed: set[int] = set()
    also_rescored = set(plan.rescore_events())
    erased: set[str] = set()
    for event_id, removals in plan.removals.items():
        now = utcnow()
        try:
            with runtime.sessions() as session:
                with session.begin():
                    for removal in removals:
                        hooks.on_contact_removed(session, runtime, removal.contact_id,
                                                 removal.kind, removal.merged_into, now)
                    if event_id not in also_rescored:
                        # the removal and its event's "done" commit together
                        mark_done(session.connection(), [event_id], now)
                erased |= erasure.erased_tables(session)  # committed
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
            failed.add(event_id)
            _fail(runtime, [events[event_id]], exc, summary, max_attempts)
        else:
            if event_id not in also_rescored:
                summary.handled += 1
    if erased:  # once per batch: the old row versions leave the database's files
        erasure.wipe_freed_space(runtime.engine, erased)
    return failed


def _fail(runtime: Runtime, events: list[ClaimedEvent], exc: BaseException,
          summary: DrainSummary, max_attempts: int) -> None:
    error = describe_error(runtime, exc)
    dead = mark_failed(runtime.engine, events, error, utcnow(), max_attempts)
    summary.dead += len(dead)
    summary.retried += len(events) - len(dead)
    summary.errors.append(error)
    log.warning("inbox events failed: %s", error,
                extra={"event_ids": [e.id for e in events], "dead": dead})


def _rescore(runtime: Runtime, plan: BatchPlan, events: dict[int, ClaimedEvent],
             skip: set[int], summary: DrainSummary, max_attempts: int) -> None:
    """One re-score call for every contact of the batch; its events done afterwards."""
    contact_ids = [c for c, ids in plan.rescore.items() if not skip.intersection(ids)]
    event_ids = sorted({i for c in contact_ids for i in plan.rescore[c]})
    if not contact_ids:
        return
    try:
        # the contact is re-read from HubSpot there: events are hints, never trusted values;
        # a contact that fails on its own fails alone (isolate), an outage fails them all
        result = rescore.rescore_contacts(runtime, contact_ids, reason="webhook", isolate=True)
    except Exception as exc:  # noqa: BLE001 - retried with backoff, then dead-lettered
        _fail(runtime, [events[i] for i in event_ids], exc, summary, max_attempts)
        return
    poisoned = getattr(result, "poisoned", {})
    for contact_id, error in poisoned.items():  # each with its own error, retried on its own
        _fail(runtime, [events[i] for i in plan.rescore.get(contact_id, [])], error, summary,
              max_attempts)
    # contacts whose write HubSpot refused (the others are committed): their events retry
    failed_contacts = [c for c in getattr(result, "failed", [])
                       if c in plan.rescore and c not in poisoned]
    retry = sorted({i for c in failed_contacts for i in plan.rescore[c]})
    if retry:
        error = RuntimeError(f"re-score failed for contacts {', '.join(failed_contacts[:10])}")
        _fail(runtime, [events[i] for i in retry], error, summary, max_attempts)
    failed_contacts += list(poisoned)
    retry = sorted({*retry, *(i for c in poisoned for i in plan.rescore.get(c, []))})
    done = [i for i in event_ids if i not in retry]
    # rescore_contacts has committed its effects; a crash here re-runs an idempotent re-score
    with runtime.engine.begin() as conn:
        mark_done(conn, done, utcnow())
    summary.rescored += len(contact_ids) - len(failed_contacts)
    summary.handled += len(done)


def drain_batch(runtime: Runtime, *, batch_size: int = BATCH_SIZE, lease: timedelta = LEASE,
                max_attempts: int = MAX_ATTEMPTS) -> DrainSummary:
    """Claim and handle one batch of due events; an empty summary when nothing is due."""
    summary = DrainSummary()
    claimed = claim_due_events(runtime.engine, limit=batch_size, lease=lease, now=utcnow())
    if not claimed:
        return summary
    summary.batches = 1
    events = {e.id: e for e in claimed}
    # a row whose lease expired too often is a poison event that kills its worker
    lost = [e for e in claimed if e.attempts > max_attempts]
    if lost:
        _fail(runtime, lost, RuntimeError("worker lost its lease on every attempt"), summary,
              max_attempts)
    plan = plan_batch([e for e in claimed if e.attempts <= max_attempts])
    if plan.ignored:
        with runtime.engine.begin() as conn:
            mark_done(conn, plan.ignored, utcnow())
        summary.handled += len(plan.ignored)
    failed = _apply_removals(runtime, plan, events, summary, max_attempts)
    _rescore(runtime, plan, events, failed, summary, max_attempts)
    if plan.deals:  # after the re-scores: a friend who signed up in this batch is attributed
        _convert_deals(runtime, plan, events, summary, max_attempts)
    return summary


def _convert_deals(runtime: Runtime, plan: BatchPlan, events: dict[int, ClaimedEvent],
                   summary: DrainSummary, max_attempts: int) -> None:
    """Every deal of the batch converted once; their events done in the same transaction."""
    event_ids = sorted({i for ids in plan.deals.values() for i in ids})
    now = utcnow()
    try:
        deals.convert_deals(runtime, plan.deals, now,
                            also=lambda session: mark_done(session.connection(), event_ids, now))
    except Exception as exc:  # noqa: BLE001 - retried with backoff, then dead-lettered
        _fail(runtime, [events[i] for i in event_ids], exc, summary, max_attempts)
        return
    summary.handled += len(event_ids)


def drain_inbox(runtime: Runtime, *, batch_size: int = BATCH_SIZE, lease: timedelta = LEASE,
                max_attempts: int = MAX_ATTEMPTS, max_batches: int | None = None) -> DrainSummary:
    """Handle batches until nothing is due (or `max_batches`); update the inbox gauges."""
    total = DrainSummary()
    while max_batches is None or total.batches < max_batches:
        batch = drain_batch(runtime, batch_size=batch_size, lease=lease,
                            max_attempts=max_attempts)
        if not batch.batches:
            break
        for name in ("handled", "retried", "dead", "rescored", "batches"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        total.errors.extend(batch.errors)
    update_gauges(runtime)
    return total


def update_gauges(runtime: Runtime) -> None:
    """Set the backlog and dead-letter gauges from the inbox."""
    counts = inbox_counts(runtime.engine)
    metrics.INBOX_BACKLOG.set(counts.get("pending", 0) + counts.get("processing", 0))
    metrics.DEAD_EVENTS.set(counts.get("dead", 0))
