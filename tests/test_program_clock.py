"""The clock's program job: reminders of contacts that did not change, ended holds, one holder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import ContactState, Referral, RewardLedger
from connector.db.session import transaction
from connector.sync.passes import run_sync
from connector.worker import clock, due
from connector.worker.locks import pass_lock


def invited_ids(runtime: Any) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ContactState.contact_id).where(
            ContactState.invited_at.is_not(None)).order_by(ContactState.contact_id)))


def test_reminders_go_out_for_contacts_the_incremental_sync_would_not_read(
        sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    run_sync(runtime)
    invited = invited_ids(runtime)
    assert invited, "the seed has ready contacts: some must be invited"
    start = datetime.now(UTC)
    assert due.run_due_work(runtime, start + timedelta(days=6)).reminded == 0

    work = due.run_due_work(runtime, start + timedelta(days=7, minutes=1))
    assert (work.reminded, work.written) == (len(invited), len(invited))
    on_record = handle.portal.get_contact(invited[0]).properties
    assert on_record["referral_status"] == "reminded"
    assert on_record["referral_reminder_trigger"]
    with runtime.sessions() as session:
        state = session.get(ContactState, invited[0])
        assert state is not None and state.reminders_sent == 1
    # the same moment again: the reminder was sent, nothing is due
    assert due.run_due_work(runtime, start + timedelta(days=7, minutes=2)).reminded == 0
    # the second and last reminder a delay later, then no more
    assert due.run_due_work(runtime, start + timedelta(days=15)).reminded == len(invited)
    assert due.run_due_work(runtime, start + timedelta(days=30)).reminded == 0


def test_the_job_releases_ended_holds(sync_setup: SyncSetup) -> None:
    _handle, runtime = sync_setup()
    converted_at = datetime(2025, 1, 1, tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        referral = Referral(referred_contact_id="900", advocate_contact_id="901", code="ABCDEFGH",
                            status="converted", attributed_at=converted_at)
        session.add(referral)
        session.flush()
        for role, contact_id in (("advocate", "901"), ("friend", "900")):
            session.add(RewardLedger(referral_id=referral.id, role=role, contact_id=contact_id,
                                     amount=10, unit="USD", label="x", status="held",
                                     created_at=converted_at))
    hold = timedelta(days=runtime.program.hold_days)
    assert due.run_due_work(runtime, converted_at + hold - timedelta(seconds=1)).released == 0
    assert due.run_due_work(runtime, converted_at + hold).released == 2
    with runtime.sessions() as session:
        assert set(session.scalars(select(RewardLedger.status))) == {"payable"}


def test_the_clock_job_skips_while_another_holds_its_lock(
        sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    _handle, runtime = sync_setup()
    calls: list[datetime] = []

    def fake(runtime: Any, now: datetime) -> due.DueWork:
        calls.append(now)
        return due.DueWork(released=0, reminded=0, written=0)

    monkeypatch.setattr(due, "run_due_work", fake)
    with pass_lock(runtime.engine, "program:due") as held:
        assert held
        assert clock.run_program_due(runtime) is None
    assert calls == []
    assert clock.run_program_due(runtime) == due.DueWork(0, 0, 0)
    assert len(calls) == 1


def test_a_failing_job_is_logged_and_returns(
        sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    _handle, runtime = sync_setup()

    def broken(runtime: Any, now: datetime) -> due.DueWork:
        raise ConnectionError("HubSpot unreachable")

    monkeypatch.setattr(due, "run_due_work", broken)
    assert clock.run_program_due(runtime) is None
    assert any("program reminders failed" in r.getMessage() for r in caplog.records)
