"""One page of contacts: score, run the program, write the diff, commit; shared by every pass.

A page is one transaction: the contact states, the program's rows, the audit log, the
`written` values of the contacts HubSpot accepted and the pass's checkpoint commit together,
so a crash repeats at most the page in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connector import metrics
from connector.db.models import AuditLog, ContactState
from connector.hubspot.records import Contact, UpdateResult
from connector.program import hooks
from connector.scoring.engine import score_contact
from connector.scoring.model import ReadinessScore
from connector.sync.states import load_states
from connector.sync.summary import SyncSummary
from connector.sync.writeback import (
    Changes,
    after_write,
    as_hubspot_has_it,
    diff,
    readiness_properties,
    truth_properties,
)

if TYPE_CHECKING:
    from connector.runtime import Runtime

Checkpoint = Callable[[Session], None]


@dataclass
class PlannedWrite:
    """The values one contact should get, and the state that remembers what was written."""

    state: ContactState
    changes: Changes


def read_properties(runtime: Runtime, *, compare: bool = False) -> list[str]:
    """What to read on every contact: the mapping's signals plus what the program needs, and
    with `compare` (a full pass) the connector's own properties as HubSpot has them."""
    # otherwise the diff is against `state.written`, what the connector remembers writing
    own = list(truth_properties(runtime.property_schema)) if compare else []
    return list(dict.fromkeys([*runtime.mapping.properties, *hooks.required_properties(runtime),
                               *own]))


def remember(
    state: ContactState, readiness: ReadinessScore, contact: Contact, now: datetime
) -> None:
    """Keep the score on the contact's state, touching only what changed (sets cost time)."""
    if state.score != readiness.score:
        state.score, state.scored_at = readiness.score, now
    if state.tier != readiness.tier:
        state.tier = readiness.tier
    if state.reasons != readiness.reasons:
        state.reasons = readiness.reasons
    issues = readiness.data_quality_issues or None
    if state.data_quality_issues != issues:
        state.data_quality_issues = issues
    stored = state.hubspot_updated_at
    if stored is not None and stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)  # SQLite hands back naive UTC datetimes
    if contact.updated_at is not None and stored != contact.updated_at:
        state.hubspot_updated_at = contact.updated_at


def plan_page(
    session: Session, runtime: Runtime, contacts: Sequence[Contact], now: datetime,
    summary: SyncSummary, *, compare: bool = False,
) -> dict[str, PlannedWrite]:
    """Score each contact, let the program act, and return the diffs to write by contact id.

    With `compare` the diff is against the values HubSpot has (read with the contact) where it
    has its own, so a value edited by hand in HubSpot is written back over.
    """
    states = load_states(session, [c.id for c in contacts])
    schema = runtime.property_schema
    truth = truth_properties(schema) if compare else {}
    plan: dict[str, PlannedWrite] = {}
    program_page = hooks.prepare_page(session, runtime, contacts, now)  # a few queries, once
    for contact in contacts:
        readiness = score_contact(contact.properties, runtime.mapping, now)
        summary.count_score(readiness)
        state = states[contact.id]
        remember(state, readiness, contact, now)
        # positional: stand-ins for the hook in tests take (*args)
        extras = hooks.on_contact(session, runtime, contact, readiness, state, now,
                                  program_page)
        written = state.written or {}
        if truth:
            written, edited = as_hubspot_has_it(written, contact.properties, truth)
            summary.edited_in_hubspot += edited
        changes = diff(written, {**readiness_properties(schema, readiness, written, now),
                                 **extras})
        if changes:
            plan[contact.id] = PlannedWrite(state, changes)
    summary.changed += len(plan)
    return plan


def apply_writes(
    session: Session, runtime: Runtime, plan: dict[str, PlannedWrite], *, reason: str,
    summary: SyncSummary, now: datetime,
) -> UpdateResult:
    """Send the diffs in batch updates; remember and audit what HubSpot accepted."""
    if not plan:
        return UpdateResult()
    result = runtime.gateway.update_contacts(
        {cid: {name: after for name, (_before, after) in p.changes.items()}
         for cid, p in plan.items()})
    audit = []
    for contact_id in result.updated:
        planned = plan.get(contact_id)
        if planned is None:
            continue
        planned.state.written = after_write(planned.state.written or {}, planned.changes)
        audit.append({"contact_id": contact_id, "action": "write", "changes": planned.changes,
                      "reason": reason, "created_at": now})
        summary.written += 1
        summary.properties_written += len(planned.changes)
        metrics.PROPERTIES_WRITTEN.inc(len(planned.changes))
    if audit:
        session.execute(insert(AuditLog), audit)  # one executemany, not a flush per row
    # a refused contact keeps its old `written`, so the next pass tries it again
    summary.failed += len(result.errors)
    summary.failed_ids.extend(result.errors)
    return result


def process_page(
    runtime: Runtime, contacts: Sequence[Contact], *, now: datetime, reason: str,
    summary: SyncSummary, dry_run: bool = False, checkpoint: Checkpoint | None = None,
    compare: bool = False,
) -> None:
    """Score, run the program and write back one page in one transaction (none on a dry run)."""
    summary.pages += 1
    summary.read += len(contacts)
    with runtime.sessions() as session:
        try:
            plan = plan_page(session, runtime, contacts, now, summary, compare=compare)
            if dry_run:
                for contact_id, planned in plan.items():
                    summary.keep_sample(contact_id, planned.changes)
                session.rollback()
                return
            result = apply_writes(session, runtime, plan, reason=reason, summary=summary,
                                  now=now)
            if summary.owed:
                summary.settled.update(c.id for c in contacts
                                       if c.id in summary.owed and c.id not in result.errors)
            if checkpoint is not None:
                checkpoint(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
