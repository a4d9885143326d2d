"""The clock: its jobs, the per-pass lock (advisory on PostgreSQL), and failures kept alive."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.config import Settings
from connector.db.session import make_engine
from connector.runtime import Runtime
from connector.sync import passes
from connector.sync.summary import SyncSummary
from connector.worker import clock
from connector.worker.locks import pass_lock


def test_the_scheduler_has_three_coalesced_single_instance_jobs(runtime: Runtime) -> None:
    scheduler = clock.build_scheduler(runtime, blocking=False)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"sync-incremental", "sync-full", "program-due"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == clock.MISFIRE_GRACE_S
    assert jobs["sync-incremental"].trigger.interval.total_seconds() == (
        runtime.settings.sync_interval_minutes * 60)
    assert jobs["sync-incremental"].args == (runtime, "incremental")
    assert str(jobs["sync-full"].trigger.fields[5]) == str(clock.FULL_SYNC_HOUR_UTC)
    assert not scheduler.running  # built, never started here


def test_a_pass_failing_unexpectedly_is_logged_with_its_traceback_and_the_job_returns(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    # a known cause (the database, HubSpot) is one line instead: test_operator_failures.py
    def broken(*args: Any, **kwargs: Any) -> SyncSummary:
        raise RuntimeError("a bug in the pass")

    monkeypatch.setattr(passes, "run_sync", broken)
    with caplog.at_level(logging.ERROR, logger="connector.worker.clock"):
        assert clock.run_pass(runtime, "incremental") is None
    record = next(r for r in caplog.records if "incremental sync failed" in r.getMessage())
    # the traceback travels as exc_info, or as redacted text once the connector's log
    # handler has seen the record
    traceback = logging.Formatter().formatException(record.exc_info) if record.exc_info \
        else record.exc_text or ""
    assert "RuntimeError: a bug in the pass" in traceback


def _holds_while_other_tries(engine_a: Engine, engine_b: Engine) -> tuple[bool, bool, bool]:
    """Thread A holds the lock; B tries while it is held, then again after release."""
    held, release, done = threading.Event(), threading.Event(), threading.Event()
    got: dict[str, bool] = {}

    def holder() -> None:
        with pass_lock(engine_a, "sync:full") as mine:
            got["a"] = mine
            held.set()
            release.wait(10)
        done.set()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    with pass_lock(engine_b, "sync:full") as other:
        during = other
    release.set()
    done.wait(10)
    thread.join()
    with pass_lock(engine_b, "sync:full") as after:
        return got["a"], during, after


@pytest.mark.postgres
def test_two_clocks_never_run_the_same_pass_on_postgres(
    pg_engine: Engine, pg_database_url: str,
) -> None:
    other_process = make_engine(pg_database_url)  # its own pool, as another clock would have
    try:
        assert _holds_while_other_tries(pg_engine, other_process) == (True, False, True)
        with pass_lock(pg_engine, "sync:full") as full, \
                pass_lock(other_process, "sync:incremental") as incremental:
            assert full and incremental  # different passes do not block each other
    finally:
        other_process.dispose()


def test_a_process_local_lock_on_sqlite(sqlite_engine: Engine) -> None:
    assert _holds_while_other_tries(sqlite_engine, sqlite_engine) == (True, False, True)


@pytest.mark.postgres
def test_a_second_clock_skips_the_pass_with_a_log_line(
    pg_engine: Engine, pg_database_url: str, settings: Settings,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    started, finish = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow_sync(runtime: Runtime, *, full: bool = False, **kwargs: Any) -> SyncSummary:
        runs.append("full" if full else "incremental")
        started.set()
        finish.wait(10)
        return SyncSummary(mode="full")

    monkeypatch.setattr(passes, "run_sync", slow_sync)
    first = Runtime(settings, engine=pg_engine)
    second_engine = make_engine(pg_database_url)
    second = Runtime(settings, engine=second_engine)
    thread = threading.Thread(target=clock.run_pass, args=(first, "full"))
    thread.start()
    try:
        started.wait(10)
        with caplog.at_level(logging.INFO, logger="connector.worker.clock"):
            assert clock.run_pass(second, "full") is None
        assert "full sync skipped" in caplog.text
    finally:
        finish.set()
        thread.join()
        second_engine.dispose()
    assert runs == ["full"]
