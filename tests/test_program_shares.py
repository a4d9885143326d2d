"""Clicks told to HubSpot: counts in outbox items, the `shared` step once, the journey's
`shared` status, and clicks through merges and erasure."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from fixtures_program import NOW, ProgramHarness
from sqlalchemy import Engine, select

from connector.config import Settings
from connector.db.models import ContactState, ShareClick
from connector.db.session import transaction
from connector.program import hooks
from connector.program.journey import due_reminders
from connector.program.links import record_click, resolve
from connector.program.shares import announce_clicks
from connector.runtime import Runtime
from connector.worker import shares as shares_step
from connector.worker.shares import announce_new_clicks


def clicked(harness: ProgramHarness, code: str, visitor: str, at: datetime = NOW) -> bool:
    """One person's click on the code's link, as the web process records it."""
    with harness.runtime.engine.begin() as conn:
        return record_click(conn, resolve(conn, code), visitor, at)


def announce(harness: ProgramHarness, now: datetime = NOW) -> int:
    with transaction(harness.runtime.sessions) as session:
        return announce_clicks(session, harness.runtime, now)


def queued(harness: ProgramHarness, contact_id: str) -> list[tuple[str, str, dict]]:
    return [(o.idempotency_key, o.kind, o.payload) for o in harness.outbox(contact_id)
            if "invitation" not in o.idempotency_key]


def test_the_first_click_is_the_shared_step_and_later_ones_only_counts(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    assert announce(program_harness) == 0  # nothing clicked yet
    assert clicked(program_harness, code, "v1", NOW + timedelta(minutes=1))
    assert not clicked(program_harness, code.lower(), "v1", NOW + timedelta(minutes=2))
    assert clicked(program_harness, code, "v2", NOW + timedelta(minutes=3))
    assert announce(program_harness) == 1
    assert announce(program_harness) == 0  # announced once
    [(key, kind, payload)] = queued(program_harness, "1")
    assert (key, kind) == ("props:shared:1:first", "properties")
    props = payload["properties"]
    assert props["referral_link_clicks"] == "2"
    assert props["referral_last_click_at"] == "2025-03-10T12:03:00.000Z"
    assert props["referral_shared_trigger"] == "2025-03-10T12:01:00.000Z"  # the first click
    assert props["referral_status"] == "shared"
    assert program_harness.state("1").journey_state == "shared"

    assert clicked(program_harness, code, "v3", NOW + timedelta(days=1))
    assert announce(program_harness) == 1
    later = queued(program_harness, "1")[1]
    assert later[0] == "props:clicks:1:3"
    assert later[2]["properties"]["referral_link_clicks"] == "3"
    assert "referral_shared_trigger" not in later[2]["properties"]  # fired once


def test_api_mode_enrolls_the_shared_workflow_once(program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    code = program_harness.invite("1")
    for n, visitor in enumerate(("v1", "v2", "v3")):
        clicked(program_harness, code, visitor, NOW + timedelta(days=n))
        announce(program_harness, NOW + timedelta(days=n))
    enrollments = [o for o in program_harness.outbox("1") if o.kind == "enroll"]
    workflow = program_harness.program.workflows["shared"].workflow_id
    assert [(o.idempotency_key, o.payload["workflow_id"]) for o in enrollments
            if "shared" in o.idempotency_key] == [("enroll:shared:1:first", workflow)]


def test_shared_sits_between_invited_and_joined(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    clicked(program_harness, code, "v1")
    announce(program_harness)
    # the sync agrees with the click job: the advocate re-read later is still `shared`
    assert program_harness.process("1", tier="ready")["referral_status"] == "shared"
    # shared is not joined: reminders go on until a friend signs up
    with program_harness.runtime.sessions() as session:
        assert due_reminders(session, program_harness.program, NOW + timedelta(days=8)) == ["1"]
    program_harness.process("2", referred_by_code=code)
    assert program_harness.process("1", tier="ready")["referral_status"] == "joined"


def test_codes_that_credit_nobody_are_never_announced(program_harness: ProgramHarness) -> None:
    program_harness.invite("1")
    clicked(program_harness, "ZZZZ9999", "v1")
    assert announce(program_harness) == 0
    [row] = program_harness.rows(ShareClick)
    assert (row.outcome, row.advocate_contact_id) == ("unknown", None)


def test_a_merged_advocates_clicks_count_for_the_survivor(
        program_harness: ProgramHarness) -> None:
    loser_code = program_harness.invite("1")
    program_harness.invite("5")
    clicked(program_harness, loser_code, "v1")
    clicked(program_harness, loser_code, "v2")
    announce(program_harness)
    with transaction(program_harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, program_harness.runtime, "1", "contact.merge", "5",
                                 NOW + timedelta(hours=1))
    assert program_harness.state("5").shared_at is not None
    clicked(program_harness, loser_code, "v3")  # the old link still works: merges followed
    announce(program_harness, NOW + timedelta(hours=2))
    survivor = [p for _, _, p in queued(program_harness, "5")
                if "referral_link_clicks" in p["properties"]]
    assert survivor[-1]["properties"]["referral_link_clicks"] == "3"
    assert {r.advocate_contact_id for r in program_harness.rows(ShareClick)} == {"5"}


def test_erasing_an_advocate_unlinks_its_clicks(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    clicked(program_harness, code, "v1")
    with transaction(program_harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, program_harness.runtime, "1",
                                 "contact.privacyDeletion", None, NOW + timedelta(hours=1))
    [row] = program_harness.rows(ShareClick)
    assert row.advocate_contact_id not in (None, "1") and row.announced_at is not None
    assert announce(program_harness) == 0
    with program_harness.runtime.sessions() as session:
        assert session.scalar(select(ContactState).where(
            ContactState.contact_id == "1")) is None


@pytest.mark.postgres
def test_the_same_click_from_many_web_threads_is_stored_once(pg_engine: Engine) -> None:
    harness = ProgramHarness(Runtime(Settings(database_url="unused"), engine=pg_engine))
    code = harness.invite("1")
    barrier = threading.Barrier(8, timeout=10)
    stored: list[bool] = []

    def web_thread() -> None:
        with pg_engine.connect() as conn:
            visit = resolve(conn, code)
        with pg_engine.connect() as conn:
            barrier.wait()  # every thread inserts at once
            stored.append(record_click(conn.execution_options(isolation_level="AUTOCOMMIT"),
                                       visit, "same-visitor", NOW))

    threads = [threading.Thread(target=web_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stored) == [False] * 7 + [True]
    assert len(harness.rows(ShareClick)) == 1


@pytest.mark.postgres
def test_two_workers_announce_the_shared_step_once(pg_engine: Engine,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime(Settings(database_url="unused"), engine=pg_engine)
    harness = ProgramHarness(runtime)
    code = harness.invite("1")
    clicked(harness, code, "v1")
    inside, release = threading.Event(), threading.Event()
    original = shares_step.announce_clicks

    def slow(session, setup, now):  # type: ignore[no-untyped-def]
        inside.set()
        release.wait(10)  # the first worker is inside the step, holding its lock
        return original(session, setup, now)

    monkeypatch.setattr(shares_step, "announce_clicks", slow)
    first: list[int] = []
    worker = threading.Thread(target=lambda: first.append(announce_new_clicks(runtime, NOW)))
    worker.start()
    assert inside.wait(10)
    monkeypatch.setattr(shares_step, "announce_clicks", original)
    assert announce_new_clicks(runtime, NOW) == 0  # the other worker skips the step
    release.set()
    worker.join()
    assert first == [1]
    keys = [o.idempotency_key for o in harness.outbox("1") if "shared" in o.idempotency_key]
    assert keys == ["props:shared:1:first"]


def test_a_click_stored_for_a_contact_merged_away_since_counts_for_the_survivor(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.invite("5")
    with program_harness.runtime.engine.begin() as conn:
        visit = resolve(conn, code)  # a web process remembers this for a minute
    with transaction(program_harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, program_harness.runtime, "1", "contact.merge", "5",
                                 NOW + timedelta(hours=1))
    with program_harness.runtime.engine.begin() as conn:
        record_click(conn, visit, "v1", NOW + timedelta(hours=2))  # still says contact 1
    assert announce(program_harness, NOW + timedelta(hours=2)) == 1
    assert {r.advocate_contact_id for r in program_harness.rows(ShareClick)} == {"5"}
    assert program_harness.state("5").shared_at is not None
    assert program_harness.state("1").shared_at is None
