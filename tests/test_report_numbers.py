"""The program's numbers, computed from tables filled directly (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger, SyncCursor
from connector.program.counters import EARNED
from connector.report.numbers import build_report

WEEK = timedelta(days=7)


def report_of(program, **kwargs):
    with Session(program.engine) as session:
        return build_report(session, now=program.now, **kwargs)


def test_all_time_numbers(program_db) -> None:
    report = report_of(program_db)
    assert report["tiers"] == {"champion": 2, "ready": 3, "nurture": 2, "not_ready": 1,
                               "excluded": 1, "unscored": 1}
    # shared: 4 and 1 had clicks, 2 referred (a friend typed its code: it shared somehow)
    assert report["funnel"] == {"eligible": 5, "invited": 4, "shared": 3, "referred": 2,
                                "converted": 1, "rewarded": 1}
    assert report["clicks"]["unique"] == 4
    assert report["clicks"]["not_credited"] == {"unknown": 1}
    daily = report["clicks"]["daily"]
    assert (daily[0], daily[7], daily[9]) == ({"day": "2026-02-25", "clicks": 1},
                                              {"day": "2026-03-04", "clicks": 2},
                                              {"day": "2026-03-06", "clicks": 1})
    assert len(daily) == 10 and sum(d["clicks"] for d in daily) == 4
    referrals = report["referrals"]
    assert referrals["made"] == 3  # the cancelled referral does not count
    assert referrals["by_status"] == {"converted": 2, "attributed": 1, "cancelled": 1}
    assert referrals["rejected"] == {"unknown_code": 2, "self_referral": 1}
    assert referrals["converted"] == 2
    assert referrals["conversion_rate"] == 0.6667
    assert referrals["active_advocates"] == 2
    assert report["revenue"]["referral_sourced"] == 2000.5
    assert report["revenue"]["note"] is None
    assert report["retention"]["referred_converted"] == 3
    assert report["retention"]["referred_rate"] == 0.6667
    assert report["retention"]["others_rate"] is None
    assert report["rewards"]["granted"] == {"count": 2, "value": {"USD": 75.0}}
    assert report["rewards"]["pending"] == {"count": 1, "value": {"USD": 50.0}}
    assert report["rewards"]["blocked"] == {"count": 1, "value": {"USD": 25.0}}
    [waiting] = report["rewards_pending_approval"]
    assert (waiting["contact_id"], waiting["amount"], waiting["reason"]) == (
        "1", 50.0, "over the monthly cap")
    top = report["top_advocates"]
    assert [(a["contact_id"], a["referrals"], a["converted"], a["rewards_earned"])
            for a in top] == [("1", 2, 2, 50.0), ("2", 1, 0, 0.0)]
    assert top[0]["referral_code"] == "CODE1"
    assert report["data_quality"] == {"contacts": 2, "issues": {"hs_feedback_last_nps_rating": 2}}


def test_weekly_series_fills_empty_weeks(program_db) -> None:
    weekly = report_of(program_db)["weekly"]
    assert weekly == [
        {"week": "2026-02-23", "referrals": 1, "conversions": 0},
        {"week": "2026-03-02", "referrals": 1, "conversions": 1},
        {"week": "2026-03-09", "referrals": 1, "conversions": 1},
    ]


def test_period_limits_every_dated_number(program_db) -> None:
    report = report_of(program_db, since=datetime(2026, 3, 5, tzinfo=UTC))
    # nobody was invited in the period, but advocates invited before took part in it:
    # 2 referred, 4's link was clicked
    assert report["funnel"] == {"eligible": 5, "invited": 2, "shared": 2, "referred": 1,
                                "converted": 0, "rewarded": 0}
    assert report["clicks"]["unique"] == 1
    assert report["referrals"]["made"] == 1
    assert report["referrals"]["converted"] == 0
    assert report["referrals"]["converted_in_period"] == 1
    assert report["referrals"]["rejected"] == {"unknown_code": 1, "self_referral": 1}
    assert report["rewards"]["granted"]["count"] == 0
    assert report["rewards"]["pending"]["count"] == 1
    # tiers are a snapshot of now, not of the period
    assert report["tiers"]["champion"] == 2
    until = report_of(program_db, until=datetime(2026, 3, 1, tzinfo=UTC))
    assert until["referrals"]["made"] == 1
    assert until["period"]["until"] == "2026-03-01T00:00:00+00:00"


def test_connector_state(program_db) -> None:
    state = report_of(program_db)["connector"]
    assert state["inbox"] == {"backlog": 3, "dead": 1}
    assert state["outbox"] == {"backlog": 1, "dead": 0}
    assert state["api_last_24h"] == {"calls": 42, "rate_limited": 2}
    assert state["last_successful_sync"] == "2026-03-18T11:55:00+00:00"
    assert [p["name"] for p in state["sync"]] == ["full", "incremental"]
    [dead] = state["dead_events"]
    assert dead["last_error"] == "TimeoutError: HubSpot did not answer"
    assert dead["attempts"] == 5


def test_empty_database_reports_zeros(sqlite_engine) -> None:
    with Session(sqlite_engine) as session:
        report = build_report(session)
    assert report["referrals"]["made"] == 0
    assert report["referrals"]["conversion_rate"] is None
    assert report["weekly"] == []
    assert report["connector"]["last_successful_sync"] is None


def test_report_is_json_ready(program_db) -> None:
    assert json.loads(json.dumps(report_of(program_db)))["funnel"]["invited"] == 4


def add_review_holds_and_retries(program) -> None:
    """Two referrals in fraud review, held and payable rewards, two writes to retry."""
    with Session(program.engine) as session, session.begin():
        for cid, reason in (("105", "disposable email domain mailinator.com"),
                            ("106", "disposable email domain mailinator.com")):
            session.add(Referral(referred_contact_id=cid, advocate_contact_id="2", code="CODE2",
                                 status="review", review_reason=reason,
                                 attributed_at=program.now - timedelta(days=1)))
        for cid, status, amount in (("107", "held", "50"), ("108", "held", "25"),
                                    ("109", "payable", "50")):
            converted = Referral(referred_contact_id=cid, advocate_contact_id="3", code="CODE3",
                                 status="converted", attributed_at=program.now - WEEK,
                                 converted_at=program.now - timedelta(days=1))
            session.add(converted)
            session.flush()
            session.add(RewardLedger(referral_id=converted.id, role="advocate", contact_id="3",
                                     amount=Decimal(amount), unit="USD", label="reward",
                                     status=status, created_at=program.now - timedelta(days=1)))
        session.add(SyncCursor(name="retry", last_summary={"contact_ids": ["7", "8"]}))


def test_review_queue_and_earned_rewards_agree_with_the_tables(program_db) -> None:
    add_review_holds_and_retries(program_db)
    report = report_of(program_db)
    assert report["review"] == {
        "count": 2, "by_reason": {"disposable email domain mailinator.com": 2}}
    # referrals in review are made (counted), not converted
    assert report["referrals"]["made"] == 3 + 2 + 3
    assert report["referrals"]["by_status"]["review"] == 2
    split = report["rewards_granted_by_state"]
    assert split == {"held": {"count": 2, "value": {"USD": 75.0}},
                     "payable": {"count": 1, "value": {"USD": 50.0}},
                     "sending": {"count": 0, "value": {}},
                     "paid": {"count": 0, "value": {}},
                     "failed": {"count": 0, "value": {}},
                     "granted": {"count": 2, "value": {"USD": 75.0}}}
    with Session(program_db.engine) as session:
        earned = session.scalar(select(func.count()).select_from(RewardLedger)
                                .where(RewardLedger.status.in_(EARNED)))
    assert report["rewards"]["granted"]["count"] == earned == sum(
        part["count"] for part in split.values())


def test_the_retry_cursor_is_a_backlog_not_a_pass(program_db) -> None:
    add_review_holds_and_retries(program_db)
    state = report_of(program_db)["connector"]
    assert [p["name"] for p in state["sync"]] == ["full", "incremental"]
    assert state["retry_backlog"] == 2
    assert state["last_successful_sync"] == "2026-03-18T11:55:00+00:00"


def test_no_retry_cursor_means_no_backlog(program_db) -> None:
    assert report_of(program_db)["connector"]["retry_backlog"] == 0
