"""The connector's own tables: what it needs to remember, never a copy of the CRM."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class ContactState(Base):
    """One HubSpot contact as the connector knows it: score, journey, values it wrote."""

    __tablename__ = "contact_state"

    contact_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(16), index=True)
    reasons: Mapped[str | None] = mapped_column(Text)
    data_quality_issues: Mapped[list[Any] | None] = mapped_column(JSON)
    # property name -> the value the connector last wrote to HubSpot (the write-back diff)
    written: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scored_at: Mapped[datetime | None]
    # journey: none, invited, reminded, shared, joined, active, paused, opted_out
    journey_state: Mapped[str] = mapped_column(String(16), default="none", index=True)
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    invited_at: Mapped[datetime | None]
    invitations_sent: Mapped[int] = mapped_column(Integer, default=0)
    # ISO dates of recent invitations: the yearly cap against ask fatigue counts them
    invitation_dates: Mapped[list[Any] | None] = mapped_column(JSON)
    reminded_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # the first time a person clicked this advocate's share link (the journey's `shared` step)
    shared_at: Mapped[datetime | None]
    # kept for api-mode enrollment and fraud checks; erased on privacy deletion
    email: Mapped[str | None] = mapped_column(String(320))
    merged_into: Mapped[str | None] = mapped_column(String(32))
    deleted_at: Mapped[datetime | None]
    hubspot_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncCursor(Base):
    """Where each sync pass stopped; checkpointed with the page it covers."""

    __tablename__ = "sync_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # last seen lastmodifieddate (ms since epoch) and hs_object_id, the re-anchoring point
    modified_ms: Mapped[int | None] = mapped_column(BigInteger)
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    run_started_at: Mapped[datetime | None]
    run_finished_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class InboxEvent(Base):
    """A webhook event, stored before it is acknowledged; drained by the worker."""

    __tablename__ = "inbox_event"
    __table_args__ = (Index("ix_inbox_event_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    # what makes a delivery unique (see connector/web for the rule); duplicates are ignored
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="hubspot")  # hubspot | workflow
    subscription_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(32), index=True)
    occurred_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending, processing, done, dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class OutboxItem(Base):
    """A pending HubSpot write or enrollment, made once thanks to its idempotency key."""

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_item_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # properties | enroll
    contact_id: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending, processing, done, dead, dropped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class Referral(Base):
    """A referred contact attributed to its advocate; one row per referred contact."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    referred_contact_id: Mapped[str] = mapped_column(String(32), unique=True)
    advocate_contact_id: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[str] = mapped_column(String(16))
    # attributed, review, converted, expired (converted outside the window), cancelled
    status: Mapped[str] = mapped_column(String(16), default="attributed")
    review_reason: Mapped[str | None] = mapped_column(Text)
    referred_created_at: Mapped[datetime | None]
    attributed_at: Mapped[datetime] = mapped_column(default=utcnow)
    converted_at: Mapped[datetime | None]
    conversion_key: Mapped[str | None] = mapped_column(String(64))  # e.g. deal id
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))


class ReferralRejection(Base):
    """A referral claim that credited nothing, with why."""

    __tablename__ = "referral_rejection"
    __table_args__ = (UniqueConstraint("referred_contact_id", "code", "reason"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    referred_contact_id: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[str] = mapped_column(String(64))
    advocate_contact_id: Mapped[str | None] = mapped_column(String(32))
    # unknown_code, self_referral, already_customer, duplicate_contact, already_referred, ...
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RewardLedger(Base):
    """One reward per referral and role (advocate, friend), granted at most once."""

    __tablename__ = "reward_ledger"
    __table_args__ = (UniqueConstraint("referral_id", "role"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # advocate | friend
    contact_id: Mapped[str] = mapped_column(String(32), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    # granted, pending_approval, blocked, held, payable, sending, paid, failed, cancelled,
    # rejected
    status: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    # the payout: its idempotency key (derived from this row, written before the provider is
    # called), who pays, the provider's (or a person's) reference, tries and the next one
    payout_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    payout_provider: Mapped[str | None] = mapped_column(String(32))
    payout_reference: Mapped[str | None] = mapped_column(String(128))
    payout_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    payout_next_at: Mapped[datetime | None]
    payout_error: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None]


class ActionCall(Base):
    """One execution of a custom workflow action, answered once per HubSpot `callbackId`:
    a retried execution gets the stored answer and changes nothing again."""

    __tablename__ = "action_call"

    callback_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(32), index=True)
    output: Mapped[dict[str, Any]] = mapped_column(JSON)  # HubSpot's outputFields
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareClick(Base):
    """A person's first click on a share link in one UTC day. No address or user agent is
    kept: `visitor` is a keyed hash of the day, the address and the user agent."""

    __tablename__ = "share_click"
    __table_args__ = (UniqueConstraint("day", "code", "visitor"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    # the normalised code when the click is counted for an advocate; "" when it is not
    code: Mapped[str] = mapped_column(String(16))
    # counted, unknown, malformed, opted_out, removed
    outcome: Mapped[str] = mapped_column(String(16))
    advocate_contact_id: Mapped[str | None] = mapped_column(String(32), index=True)
    visitor: Mapped[str] = mapped_column(String(32))
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # when the advocate's click count that includes this click was queued for HubSpot
    announced_at: Mapped[datetime | None] = mapped_column(index=True)


class PortalAccount(Base):
    """The HubSpot account the token belongs to (one row): links to its records' pages."""

    __tablename__ = "portal_account"

    portal_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ui_domain: Mapped[str] = mapped_column(String(100))
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Every write the connector made to HubSpot: contact, before/after, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(32))  # write | enroll
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)  # {prop: [before, after]}
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ErasureLog(Base):
    """That a contact's personal data was erased: a salted hash of its id, never the id."""

    __tablename__ = "erasure_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    # sha256(salt + contact id): proves an erasure for a given id without storing the id
    contact_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # privacy_deletion
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # rows erased or pseudonymised per table
    erased_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiUsage(Base):
    """HubSpot calls per hour, endpoint and status, for the report and the dashboard."""

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("hour", "endpoint", "status"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    hour: Mapped[datetime]
    endpoint: Mapped[str] = mapped_column(String(120))
    status: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class RateLimitSlot(Base):
    """A HubSpot call slot taken from a shared budget (PostgreSQL: shared by all processes)."""

    __tablename__ = "rate_limit_slot"
    __table_args__ = (Index("ix_rate_limit_slot_bucket_taken", "bucket", "taken_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(32))
    taken_at: Mapped[float] = mapped_column(Numeric(16, 6, asdecimal=False))


class ReadinessSnapshot(Base):
    """The score as it was when the program asked (an invitation or a reminder): each signal's
    share and the mapping's versions, so `connector calibrate` can compare it with outcomes."""

    __tablename__ = "readiness_snapshot"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[str] = mapped_column(String(16))  # invitation | reminder
    taken_at: Mapped[datetime] = mapped_column(index=True)
    score: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(16))
    # {signal key: share 0..1 as scoring computed it}; never a raw property value
    shares: Mapped[dict[str, Any]] = mapped_column(JSON)
    mapping_version: Mapped[str] = mapped_column(String(64))
    signals_version: Mapped[str] = mapped_column(String(64))
class PassStart(Base):
    """When a scheduled pass last started, whichever clock started it: a pass that ran within
    its interval is skipped, so two clocks run each pass once."""

    __tablename__ = "pass_start"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime]
    started_by: Mapped[str | None] = mapped_column(String(120))  # host:pid, for the logs


class WorkPause(Base):
    """Work stopped for a cause outside the connector (HubSpot rejected the access token):
    the worker waits and tries again; /readyz and the dashboard say why. Gone once resumed."""

    __tablename__ = "work_pause"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime]
    checked_at: Mapped[datetime]


# PostgreSQL: every INSERT into the inbox (one statement per delivery) notifies the channel the
# workers LISTEN on, delivered when it commits; migration 0005 creates the same
INBOX_CHANNEL = "connector_inbox"
INBOX_NOTIFY = [
    f"""CREATE OR REPLACE FUNCTION connector_inbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{INBOX_CHANNEL}', '');
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER inbox_event_notify AFTER INSERT ON inbox_event
        FOR EACH STATEMENT EXECUTE FUNCTION connector_inbox_notify()""",
]
for _statement in INBOX_NOTIFY:
    event.listen(InboxEvent.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="postgresql"))
