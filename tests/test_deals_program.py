"""program.deals.on_deal on the database: one referral per deal, also under concurrent workers."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from connector.config import Settings
from connector.db.models import ContactState, Referral, RewardLedger
from connector.db.session import transaction
from connector.hubspot.deals import Deal
from connector.program.deals import closed_at, deal_revenue, on_deal
from connector.runtime import Runtime

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def deal_runtime(engine: Engine, sqlite_url: str) -> Runtime:
    runtime = Runtime(Settings(database_url=sqlite_url), engine=engine)
    runtime.__dict__["program"] = dataclasses.replace(
        runtime.program, conversion_mode="deal_closed_won", approval_threshold=None)
    return runtime


def refer(runtime: Runtime, advocate: str, *friends: str) -> None:
    with transaction(runtime.sessions) as session:
        session.add(ContactState(contact_id=advocate, journey_state="invited", written={},
                                 referral_code="ABCD2345", email="advocate@example.com"))
        for i, friend in enumerate(friends):
            session.add(ContactState(contact_id=friend, journey_state="none", written={}))
            session.add(Referral(referred_contact_id=friend, advocate_contact_id=advocate,
                                 code="ABCD2345", status="attributed",
                                 referred_created_at=NOW - timedelta(days=3),
                                 attributed_at=NOW - timedelta(days=3, seconds=-i)))


def won(deal_id: str, amount: str | None = "250.5", stage: str = "closedwon") -> Deal:
    return Deal(deal_id, {"dealstage": stage, "amount": amount,
                          "closedate": (NOW - timedelta(hours=1)).isoformat()})


def test_amount_and_close_date_are_read_carefully() -> None:
    assert deal_revenue(won("1", "1e3")) == Decimal(1000)
    assert deal_revenue(won("1", "lots")) is None
    assert deal_revenue(won("1", None)) is None
    assert closed_at(won("1"), NOW) == NOW - timedelta(hours=1)
    future = Deal("2", {"closedate": (NOW + timedelta(days=9)).isoformat()})
    assert closed_at(future, NOW) == NOW  # an expected close date is not a close


def test_a_won_deal_outside_the_window_expires_the_referral(engine: Engine,
                                                           sqlite_url: str) -> None:
    runtime = deal_runtime(engine, sqlite_url)
    refer(runtime, "1", "2")
    late = Deal("77", {"dealstage": "closedwon", "amount": "5",
                       "closedate": (NOW + timedelta(days=200)).isoformat()})
    with transaction(runtime.sessions) as session:
        outcome = on_deal(session, runtime, late, ["2"], NOW + timedelta(days=300))
    assert outcome.expired == "2" and outcome.converted is None
    with runtime.sessions() as session:
        referral = session.scalars(select(Referral)).one()
        assert (referral.status, referral.conversion_key) == ("expired", "77")
        assert session.scalars(select(RewardLedger)).all() == []


def test_custom_won_stages_and_other_stages(engine: Engine, sqlite_url: str) -> None:
    runtime = deal_runtime(engine, sqlite_url)
    runtime.__dict__["program"] = dataclasses.replace(
        runtime.program, conversion_deal_stages=("signed",))
    refer(runtime, "1", "2")
    with transaction(runtime.sessions) as session:
        assert on_deal(session, runtime, won("5"), ["2"], NOW).converted is None
        assert on_deal(session, runtime, won("5", stage="signed"), ["2"], NOW).converted == "2"


def test_concurrent_workers_count_one_deal_once(pg_engine: Engine, sqlite_url: str) -> None:
    runtime = deal_runtime(pg_engine, sqlite_url)
    refer(runtime, "1", "2", "3")
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def worker(order: list[str]) -> None:
        try:
            with runtime.sessions() as session, session.begin():
                barrier.wait()
                on_deal(session, runtime, won("900"), order, NOW)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(order,))
               for order in (["2", "3"], ["3", "2"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    with runtime.sessions() as session:
        keyed = session.scalars(select(Referral).where(Referral.conversion_key == "900")).all()
        assert [(r.referred_contact_id, r.status, r.revenue) for r in keyed] == [
            ("2", "converted", Decimal("250.50"))]
        roles = sorted((r.role, r.contact_id) for r in session.scalars(select(RewardLedger)))
        assert roles == [("advocate", "1"), ("friend", "2")]


def test_a_deal_closed_before_the_friend_existed_converts_nothing(engine: Engine,
                                                                 sqlite_url: str) -> None:
    runtime = deal_runtime(engine, sqlite_url)
    refer(runtime, "1", "2")  # the friend's contact was created 3 days before NOW
    old = Deal("55", {"dealstage": "closedwon", "amount": "900",
                      "closedate": (NOW - timedelta(days=30)).isoformat()})
    with transaction(runtime.sessions) as session:
        outcome = on_deal(session, runtime, old, ["2"], NOW)
    assert outcome.converted is None
    with runtime.sessions() as session:
        assert session.scalar(select(Referral.status)) == "attributed"
        assert session.scalars(select(RewardLedger)).all() == []
    with transaction(runtime.sessions) as session:  # a deal won after the referral still counts
        outcome = on_deal(session, runtime, won("56"), ["2"], NOW)
    assert outcome.converted == "2"
