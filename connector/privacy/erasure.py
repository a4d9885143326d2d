"""Privacy deletion (GDPR erasure): every personal value the connector holds about a contact is
erased, and its id pseudonymised, in the caller's transaction, next to a record that the
erasure happened (a salted hash of the id, the time and the counts: nothing personal).

The ledger keeps its amounts for accounting, under the pseudonym; so do referrals, so the
advocate's counters stay right.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session

from connector.db.models import (
    AuditLog,
    ContactState,
    ErasureLog,
    InboxEvent,
    OutboxItem,
    ReadinessSnapshot,
    Referral,
    ReferralRejection,
    RewardLedger,
    ShareClick,
)
from connector.privacy.scrub import scrub_everywhere

log = logging.getLogger(__name__)

ERASED_PAYLOAD: dict[str, Any] = {"erased": True}
PSEUDONYM_PREFIX = "erased-"
# session.info key: the tables an erasure in this session rewrote, for wipe_freed_space
ERASED_TABLES = "erased_tables"


def new_pseudonym() -> str:
    """A random stand-in for a contact id: nothing links it back once the transaction ends."""
    return PSEUDONYM_PREFIX + secrets.token_hex(12)  # 31 characters: fits every id column


def contact_hash(contact_id: str, salt: str) -> str:
    """The salted SHA-256 of a contact id kept in the erasure log."""
    return hashlib.sha256(f"{salt}:{contact_id}".encode()).hexdigest()


def was_erased(session: Session, contact_id: str) -> bool:
    """Whether the erasure log records an erasure of this contact id."""
    return any(contact_hash(str(contact_id), row.salt) == row.contact_hash
               for row in session.scalars(select(ErasureLog)))


def personal_values(session: Session, contact_id: str) -> set[str]:
    """The personal strings held about the contact: its email, and any email its outbox
    items carried (an enrollment may have been queued with a newer address)."""
    found: set[str] = set()
    state = session.get(ContactState, contact_id)
    if state is not None and state.email:
        found.add(state.email)
    for payload in session.scalars(select(OutboxItem.payload)
                                   .where(OutboxItem.contact_id == contact_id)):
        email = (payload or {}).get("email")
        if isinstance(email, str) and email.strip():
            found.add(email)
    return found


def _rename(session: Session, column: Any, contact_id: str, pseudonym: str,
            **values: Any) -> int:
    result = session.execute(update(column.class_).where(column == contact_id)
                             .values({column.key: pseudonym, **values})
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def erase_contact(session: Session, contact_id: str, *, now: datetime,
                  kind: str = "privacy_deletion") -> dict[str, int]:
    """Erase and pseudonymise everything about `contact_id`; returns the counts it logged."""
    contact_id = str(contact_id)
    session.flush()  # pending ORM changes first: the updates below bypass the session
    pseudonym = new_pseudonym()
    counts = {"personal_values": 0}
    values = personal_values(session, contact_id)
    counts["personal_values"] = len(values)
    counts["contact_state"] = _rename(
        session, ContactState.contact_id, contact_id, pseudonym, email=None, reasons=None,
        data_quality_issues=None, written={}, hubspot_updated_at=None)
    _rename(session, ContactState.merged_into, contact_id, pseudonym)
    counts["outbox_item"] = _rename(session, OutboxItem.contact_id, contact_id, pseudonym,
                                    payload=ERASED_PAYLOAD, last_error=None)
    counts["outbox_item"] += drop_referral_notes(session, contact_id)
    counts["inbox_event"] = erase_inbox(session, contact_id)
    counts["referral"] = (
        _rename(session, Referral.referred_contact_id, contact_id, pseudonym)
        + _rename(session, Referral.advocate_contact_id, contact_id, pseudonym))
    counts["referral_rejection"] = erase_rejections(session, contact_id, pseudonym)
    # the clicks stay counted (they hold no one's data) but no longer point at the advocate
    counts["share_click"] = _rename(session, ShareClick.advocate_contact_id, contact_id,
                                    pseudonym, announced_at=now)
    # a person's free-text decision note may name the contact; the rules' reasons never do
    session.execute(update(RewardLedger).where(RewardLedger.contact_id == contact_id,
                                               RewardLedger.decided_by != "rules")
                    .values(reason=None).execution_options(synchronize_session=False))
    counts["reward_ledger"] = _rename(session, RewardLedger.contact_id, contact_id, pseudonym)
    counts["audit_log"] = erase_audit(session, contact_id, pseudonym)
    # the scores the program asked on: a profile of the person, of no use under a pseudonym
    counts["readiness_snapshot"] = int(session.execute(
        delete(ReadinessSnapshot).where(ReadinessSnapshot.contact_id == contact_id)
        .execution_options(synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]
    for table, n in scrub_everywhere(session, values).items():
        counts[f"scrubbed_{table}"] = n
    salt = secrets.token_hex(16)
    session.add(ErasureLog(contact_hash=contact_hash(contact_id, salt), salt=salt, kind=kind,
                           counts=counts, erased_at=now))
    touched = {name.removeprefix("scrubbed_") for name, n in counts.items()
               if n and name != "personal_values"}
    session.info.setdefault(ERASED_TABLES, set()).update(touched)
    session.flush()
    session.expire_all()  # objects loaded before still show the erased values
    return counts


def drop_referral_notes(session: Session, contact_id: str) -> int:
    """Notes and labels not sent yet that name the contact as the other side of a referral
    (their item belongs to the other contact): never sent now."""
    dropped = 0
    for item in session.scalars(select(OutboxItem).where(
            OutboxItem.kind.in_(("note", "link")), OutboxItem.status == "pending")):
        payload = item.payload or {}
        if contact_id in (str(payload.get("advocate")), str(payload.get("friend"))):
            item.status, item.payload, item.last_error = "dropped", ERASED_PAYLOAD, None
            dropped += 1
    session.flush()
    return dropped


def erase_inbox(session: Session, contact_id: str) -> int:
    """The contact's webhook events lose their payload, object id and the key naming it."""
    rows = session.execute(select(InboxEvent.id).where(InboxEvent.object_id == contact_id)).all()
    for (event_id,) in rows:
        session.execute(update(InboxEvent).where(InboxEvent.id == event_id).values(
            event_key=f"erased:{event_id}", event_id=None, object_id=None,
            payload=ERASED_PAYLOAD, last_error=None)
            .execution_options(synchronize_session=False))
    return len(rows)


def erase_rejections(session: Session, contact_id: str, pseudonym: str) -> int:
    """Claims the contact made lose the code it typed (free text); claims on its code keep
    the code (a random token) under the pseudonym."""
    rows = session.execute(select(ReferralRejection.id)
                           .where(ReferralRejection.referred_contact_id == contact_id)).all()
    for (rejection_id,) in rows:
        session.execute(update(ReferralRejection).where(ReferralRejection.id == rejection_id)
                        .values(referred_contact_id=pseudonym, code=f"erased:{rejection_id}")
                        .execution_options(synchronize_session=False))
    return len(rows) + _rename(session, ReferralRejection.advocate_contact_id, contact_id,
                               pseudonym)


def erase_audit(session: Session, contact_id: str, pseudonym: str) -> int:
    """Audit rows keep which properties were written and when, not the values."""
    rows = session.execute(select(AuditLog.id, AuditLog.changes)
                           .where(AuditLog.contact_id == contact_id)).all()
    for audit_id, changes in rows:
        blank = {name: [None, None] for name in (changes or {})}
        session.execute(update(AuditLog).where(AuditLog.id == audit_id)
                        .values(contact_id=pseudonym, changes=blank)
                        .execution_options(synchronize_session=False))
    return len(rows)


def erased_tables(session: Session) -> set[str]:
    """The tables erasures in this session rewrote (empty when none happened)."""
    return set(session.info.get(ERASED_TABLES, ()))


def wipe_freed_space(engine: Engine, tables: Iterable[str]) -> None:
    """After erasures have committed, make the old row versions go from the database's files.

    SQLite (every connection has `secure_delete` on, so freed space is zeroed): a
    `wal_checkpoint(TRUNCATE)` copies the new pages into the file and empties the WAL, where
    the old pages stayed. PostgreSQL: a `VACUUM` of the rewritten tables frees the dead row
    versions for reuse (their bytes stay in the files until the space is reused, and in WAL
    segments and backups: see the README's "What an erasure leaves").
    """
    names = sorted(set(tables))
    if not names:
        return
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.warning("erasure: the WAL could not be emptied (a reader held it); the next "
                        "erasure or SQLite's own checkpoint will")
        return
    if engine.dialect.name == "postgresql":
        quote = engine.dialect.identifier_preparer.quote
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM " + ", ".join(quote(name) for name in names)))
