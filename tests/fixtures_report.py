"""A small program written straight into the tables, for report, dashboard and ops tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.db.models import (
    ApiUsage,
    ContactState,
    InboxEvent,
    OutboxItem,
    Referral,
    ReferralRejection,
    RewardLedger,
    ShareClick,
    SyncCursor,
)

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
WEEK = timedelta(days=7)


@dataclass
class SeededProgram:
    """What was written, so tests can state the expected numbers."""

    engine: Engine
    now: datetime


def seed_program(session: Session, now: datetime = NOW) -> None:
    """Ten contacts, three advocates, four referrals over three weeks, a ledger and a backlog."""
    tiers = ["champion", "champion", "ready", "ready", "ready", "nurture", "not_ready",
             "excluded", None, "nurture"]
    for i, tier in enumerate(tiers, start=1):
        session.add(ContactState(
            contact_id=str(i), tier=tier, score=90 - 8 * i, written={},
            journey_state="none",
            data_quality_issues=["hs_feedback_last_nps_rating"] if i in (6, 7) else None,
        ))
    session.flush()
    # advocates 1, 2 and 3 invited; 1 and 2 joined; 4 invited but silent
    for cid, state in (("1", "active"), ("2", "active"), ("3", "joined"), ("4", "invited")):
        contact = session.get(ContactState, cid)
        assert contact is not None
        contact.journey_state = state
        contact.invited_at = now - 4 * WEEK
        contact.referral_code = f"CODE{cid}"
    # a merged-away contact never counts
    session.add(ContactState(contact_id="99", tier="champion", merged_into="1", written={}))
    referrals = [
        Referral(referred_contact_id="101", advocate_contact_id="1", code="CODE1",
                 status="converted", attributed_at=now - 3 * WEEK,
                 converted_at=now - 2 * WEEK, revenue=Decimal("1200.00")),
        Referral(referred_contact_id="102", advocate_contact_id="1", code="CODE1",
                 status="converted", attributed_at=now - 2 * WEEK,
                 converted_at=now - 1 * WEEK, revenue=Decimal("800.50")),
        Referral(referred_contact_id="103", advocate_contact_id="2", code="CODE2",
                 status="attributed", attributed_at=now - 1 * WEEK),
        Referral(referred_contact_id="104", advocate_contact_id="2", code="CODE2",
                 status="cancelled", attributed_at=now - 3 * WEEK,
                 converted_at=now - 2 * WEEK, revenue=Decimal("500")),
    ]
    session.add_all(referrals)
    session.flush()
    first, second = referrals[0], referrals[1]
    session.add_all([
        RewardLedger(referral_id=first.id, role="advocate", contact_id="1",
                     amount=Decimal("50"), unit="USD", label="$50 gift card", status="granted",
                     created_at=now - 2 * WEEK),
        RewardLedger(referral_id=first.id, role="friend", contact_id="101",
                     amount=Decimal("25"), unit="USD", label="$25 credit", status="granted",
                     created_at=now - 2 * WEEK),
        RewardLedger(referral_id=second.id, role="advocate", contact_id="1",
                     amount=Decimal("50"), unit="USD", label="$50 gift card",
                     status="pending_approval", reason="over the monthly cap",
                     created_at=now - 1 * WEEK),
        RewardLedger(referral_id=second.id, role="friend", contact_id="102",
                     amount=Decimal("25"), unit="USD", label="$25 credit", status="blocked",
                     reason="self_referral", created_at=now - 1 * WEEK),
    ])
    # share-link clicks: advocate 4 (invited, silent otherwise) on two days, 1 once; a click
    # on a code nobody holds
    for n, (advocate, at) in enumerate((("4", now - 2 * WEEK), ("4", now - 2 * WEEK),
                                        ("4", now - 2 * WEEK + timedelta(days=2)),
                                        ("1", now - 3 * WEEK))):
        session.add(ShareClick(day=at.date(), code=f"CODE{advocate}", outcome="counted",
                               advocate_contact_id=advocate, visitor=f"v{n}", clicked_at=at,
                               announced_at=at))
    session.add(ShareClick(day=(now - WEEK).date(), code="", outcome="unknown", visitor="v9",
                           clicked_at=now - WEEK, announced_at=now - WEEK))
    session.add_all([
        ReferralRejection(referred_contact_id="201", code="NOPE", reason="unknown_code",
                          created_at=now - 2 * WEEK),
        ReferralRejection(referred_contact_id="202", code="NOPE2", reason="unknown_code",
                          created_at=now - 1 * WEEK),
        ReferralRejection(referred_contact_id="1", code="CODE1", advocate_contact_id="1",
                          reason="self_referral", created_at=now - 1 * WEEK),
    ])
    session.add_all([
        SyncCursor(name="incremental", last_success_at=now - timedelta(minutes=5),
                   last_status="ok"),
        SyncCursor(name="full", last_success_at=now - timedelta(days=1), last_status="ok"),
    ])
    for i, status in enumerate(["pending", "pending", "processing", "done", "dead"]):
        session.add(InboxEvent(
            event_key=f"hs:{i}", event_id=str(i), subscription_type="contact.propertyChange",
            object_id=str(i + 1), payload={}, status=status, attempts=5 if status == "dead" else 0,
            last_error="TimeoutError: HubSpot did not answer" if status == "dead" else None,
        ))
    session.add_all([
        OutboxItem(idempotency_key="w1", kind="properties", contact_id="1", payload={},
                   status="pending"),
        OutboxItem(idempotency_key="w2", kind="enroll", contact_id="2", payload={},
                   status="done"),
    ])
    hour = now.replace(minute=0, second=0, microsecond=0)
    session.add_all([
        ApiUsage(hour=hour, endpoint="contacts.batch_read", status=200, calls=40),
        ApiUsage(hour=hour - timedelta(hours=3), endpoint="contacts.search", status=429,
                 calls=2),
        ApiUsage(hour=hour - timedelta(hours=30), endpoint="contacts.search", status=200,
                 calls=1000),  # older than a day: not counted
    ])


@pytest.fixture
def program_db(engine: Engine) -> SeededProgram:
    """The seeded program on SQLite and on PostgreSQL."""
    with Session(engine) as session, session.begin():
        seed_program(session)
    return SeededProgram(engine, NOW)


@pytest.fixture
def program_sqlite(sqlite_engine: Engine) -> SeededProgram:
    """The seeded program on SQLite only (for web and browser tests)."""
    with Session(sqlite_engine) as session, session.begin():
        seed_program(session)
    return SeededProgram(sqlite_engine, NOW)
