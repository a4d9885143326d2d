"""Processes that heal themselves: HubSpot's 500s retried (never for creates), short leases kept
alive by a heartbeat, a rejected token pausing the drain without burning attempts, two clocks
running each pass once, and a full pass correcting a value edited by hand in HubSpot."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from fixtures_sync import SyncSetup
from fixtures_webhooks import contact_event
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from connector.db.models import InboxEvent, PassStart, WorkPause
from connector.db.session import make_engine
from connector.hubspot.limiter import BURST
from connector.queue.inbox import store_events
from connector.runtime import Runtime
from connector.sync import passes, rescore
from connector.sync.passes import run_sync
from connector.web.app import create_app
from connector.web.deliveries import parse_hubspot_events
from connector.worker import clock
from connector.worker.drain import drain_batch, drain_inbox
from connector.worker.loop import StopFlag, WorkerOptions, run_worker

ROOT = Path(__file__).resolve().parent.parent


def fill_inbox(engine: Engine, contact_ids: list[int]) -> None:
    events = [contact_event(i) for i in contact_ids]
    store_events(engine, parse_hubspot_events(json.dumps(events).encode()))


def by_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
        return {status: n for status, n in rows}


def attempts(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(InboxEvent.attempts).order_by(InboxEvent.id)))


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> float:
    """Seconds it took for `predicate` to hold (fails after `timeout`)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(step)
    return time.monotonic() - started


def faults(url: str, **values: object) -> None:
    requests.post(f"{url}/_sandbox/faults", json=values, timeout=5).raise_for_status()


# -- HubSpot's 500s -----------------------------------------------------------------------


def test_500s_are_retried_for_reads_and_batch_updates(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    runtime.gateway.policy.sleep = lambda _s: None
    ids = [str(c.id) for c in handle.portal.live_contacts()][:3]
    faults(handle.url, error_status=500, error_burst=2)
    assert {c.id for c in runtime.gateway.read_contacts(ids, ["email"])} == set(ids)
    faults(handle.url, error_status=500, error_burst=2)
    result = runtime.gateway.update_contacts({ids[0]: {"advocate_tier": "ready"}})
    assert result.updated == [ids[0]] and not result.errors
    assert handle.stats()["status"]["500"] == 4


def test_500s_are_never_retried_for_creates(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    runtime.gateway.policy.sleep = lambda _s: None
    body = {"name": "made_once", "label": "Made once", "type": "string", "fieldType": "text",
            "groupName": "advocacy"}
    faults(handle.url, error_status=500, error_burst=1)
    with pytest.raises(Exception) as failed:  # noqa: PT011 - the SDK's ApiException
        runtime.gateway.call(
            "POST /crm/v3/properties/contacts", BURST,
            lambda: runtime.gateway.apis.properties.create_with_http_info(
                "contacts", body, _request_timeout=runtime.gateway.apis.timeout),
            retry_server_errors=False)
    assert getattr(failed.value, "status", None) == 500
    creates = {route: n for route, n in handle.stats()["requests"].items()
               if route.startswith("POST /crm/v3/properties/")}
    assert list(creates.values()) == [1]  # tried once
    assert "made_once" not in handle.portal.properties


# -- leases and the heartbeat -----------------------------------------------------------


@pytest.mark.postgres
def test_a_batch_slower_than_its_lease_keeps_it_while_the_worker_lives(
    settings, pg_engine: Engine, pg_database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill_inbox(pg_engine, list(range(1, 21)))
    handled: list[str] = []
    lock = threading.Lock()

    def slow(runtime, contact_ids, *, reason, isolate=False):
        time.sleep(2.5)  # more than two leases of 1 s
        with lock:
            handled.extend(contact_ids)
        return rescore.RescoreSummary(read=len(contact_ids))

    monkeypatch.setattr(rescore, "rescore_contacts", slow)
    first = Runtime(settings, engine=make_engine(pg_database_url))
    second = Runtime(settings, engine=make_engine(pg_database_url))
    lease = timedelta(seconds=1)
    worker = threading.Thread(target=drain_batch, args=(first,), kwargs={"lease": lease})
    worker.start()
    wait_for(lambda: by_status(pg_engine).get("processing") == 20)
    taken = 0
    while worker.is_alive():  # another worker keeps asking while the slow batch is worked on
        taken += drain_batch(second, lease=lease).batches
        time.sleep(0.1)
    worker.join()
    first.engine.dispose()
    second.engine.dispose()
    assert taken == 0, "the live worker's events were taken from it"
    assert sorted(handled, key=int) == [str(i) for i in range(1, 21)]  # each once
    assert by_status(pg_engine) == {"done": 20}
    assert attempts(pg_engine) == [1] * 20


KILLED_WORKER = """
import sys, time
from connector.config import Settings
from connector.runtime import Runtime
from connector.sync import flush as sync_flush
from connector.sync import rescore
from connector.worker.loop import WorkerOptions, run_worker

journal = sys.argv[1]

def stuck(runtime, contact_ids, *, reason, isolate=False):
    with open(journal, "a") as f:
        f.write("start " + " ".join(contact_ids) + "\\n")
    time.sleep(600)  # a worker stuck on HubSpot until it is killed

rescore.rescore_contacts = stuck
sync_flush.flush_outbox = lambda runtime: 0
run_worker(Runtime(Settings.from_env()), options=WorkerOptions(idle_sleep_s=0.1))
"""


@pytest.mark.postgres
def test_a_sigkilled_workers_events_are_taken_over_within_seconds(
    tmp_path: Path, settings, pg_engine: Engine, pg_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill_inbox(pg_engine, list(range(1, 41)))
    script = tmp_path / "stuck_worker.py"
    script.write_text(textwrap.dedent(KILLED_WORKER))
    journal = tmp_path / "journal.txt"
    env = dict(os.environ, DATABASE_URL=pg_database_url, HUBSPOT_ACCESS_TOKEN="t",
               LOG_FORMAT="text")
    stuck = subprocess.Popen([sys.executable, str(script), str(journal)], env=env, cwd=ROOT)
    try:  # the default options: the lease is the worker's own default
        wait_for(lambda: journal.exists() and journal.read_text().startswith("start"))
        stuck.send_signal(signal.SIGKILL)
        stuck.wait(timeout=10)
    finally:
        if stuck.poll() is None:
            stuck.kill()
    killed_at = time.monotonic()
    assert by_status(pg_engine) == {"processing": 40}
    monkeypatch.setattr(rescore, "rescore_contacts",
                        lambda runtime, ids, *, reason, isolate=False: rescore.RescoreSummary(
                            read=len(ids)))
    survivor = Runtime(settings, engine=make_engine(pg_database_url))
    while by_status(pg_engine) != {"done": 40}:
        assert time.monotonic() - killed_at < 30, "a killed worker's events waited too long"
        drain_inbox(survivor)
        time.sleep(0.2)
    survivor.engine.dispose()
    assert attempts(pg_engine) == [2] * 40  # taken over once, nothing lost


# -- a rejected token pauses the drain --------------------------------------------------


def test_a_rejected_token_pauses_the_drain_and_it_resumes_by_itself(
    sync_setup: SyncSetup,
) -> None:
    handle, runtime = sync_setup()
    settings = dataclasses.replace(runtime.settings, dashboard_token="dash")
    runtime = Runtime(settings, engine=runtime.engine)
    requests.post(f"{handle.url}/_sandbox/token", json={"access_token": "rotated"},
                  timeout=5).raise_for_status()
    contact_ids = [int(c.id) for c in handle.portal.live_contacts()][:5]
    fill_inbox(runtime.engine, contact_ids)
    stop = StopFlag()
    options = WorkerOptions(idle_sleep_s=0.05, token_retry_s=0.3, max_attempts=2)
    worker = threading.Thread(target=run_worker, args=(runtime,),
                              kwargs={"options": options, "stop": stop})
    worker.start()
    try:
        wait_for(lambda: _pause(runtime.engine) is not None)
        time.sleep(1.5)  # several tries of the token, each refused
        assert by_status(runtime.engine) == {"pending": 5}  # not dead after max_attempts=2
        assert attempts(runtime.engine) == [0] * 5  # no attempt burnt
        client = create_app(runtime=runtime).test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "HubSpot rejected the access token (401)" in ready.json["reason"]
        page = client.get("/dashboard", headers={"Authorization": "Bearer dash"})
        assert "Paused since" in page.text
        assert "HubSpot rejected the access token (401)" in page.text
        requests.post(f"{handle.url}/_sandbox/token", json={"access_token": "sandbox-token"},
                      timeout=5).raise_for_status()
        wait_for(lambda: by_status(runtime.engine) == {"done": 5}, timeout=15)
        assert _pause(runtime.engine) is None
        assert client.get("/readyz").json["status"] == "ready"
        assert attempts(runtime.engine) == [1] * 5
    finally:
        stop.event.set()
        worker.join(timeout=10)


def _pause(engine: Engine) -> WorkPause | None:
    with Session(engine) as session:
        return session.get(WorkPause, "hubspot_token")


def test_a_rejected_token_in_worker_once_is_one_line_and_burns_nothing(
    sync_setup: SyncSetup, tmp_path: Path,
) -> None:
    handle, runtime = sync_setup()
    contact_ids = [int(c.id) for c in handle.portal.live_contacts()][:3]
    fill_inbox(runtime.engine, contact_ids)
    from click.testing import CliRunner

    from connector.cli import cli

    result = CliRunner().invoke(cli, ["worker", "--once"], env={
        "DATABASE_URL": str(runtime.engine.url), "HUBSPOT_BASE_URL": handle.url,
        "HUBSPOT_ACCESS_TOKEN": "revoked", "LOG_FORMAT": "text"})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: HubSpot rejected the access token (401)")
    assert by_status(runtime.engine) == {"pending": 3}
    assert attempts(runtime.engine) == [0] * 3


# -- two clocks -------------------------------------------------------------------------


def test_two_clocks_run_each_pass_once(settings, engine: Engine,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def fake_sync(runtime, *, full=False, **_kwargs):
        ran.append("full" if full else "incremental")
        from connector.sync.summary import SyncSummary

        return SyncSummary(mode="full" if full else "incremental")

    monkeypatch.setattr(passes, "run_sync", fake_sync)
    url = engine.url.render_as_string(hide_password=False)
    clocks = [Runtime(settings, engine=make_engine(url)) for _ in range(2)]
    for runtime in clocks:  # both clocks ask for the same run, one after the other
        clock.run_pass(runtime, "incremental")
        clock.run_pass(runtime, "full")
    assert ran == ["incremental", "full"]
    # a pass that ran longer ago than its interval runs again, whichever clock asks
    with engine.begin() as conn:
        conn.execute(update(PassStart).values(
            started_at=datetime.now(UTC) - timedelta(minutes=settings.sync_interval_minutes)))
    assert clock.run_pass(clocks[1], "incremental") is not None
    assert clock.run_pass(clocks[0], "incremental") is None
    assert ran == ["incremental", "full", "incremental"]
    for runtime in clocks:
        runtime.engine.dispose()


@pytest.mark.postgres
def test_two_clocks_asking_at_once_run_the_pass_once(settings, pg_engine: Engine,
                                                     pg_database_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []

    def fake_sync(runtime, *, full=False, **_kwargs):
        ran.append(1)
        time.sleep(0.2)
        from connector.sync.summary import SyncSummary

        return SyncSummary()

    monkeypatch.setattr(passes, "run_sync", fake_sync)
    clocks = [Runtime(settings, engine=make_engine(pg_database_url)) for _ in range(4)]
    threads = [threading.Thread(target=clock.run_pass, args=(r, "incremental")) for r in clocks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.3)
    for runtime in clocks:  # and later asks within the interval are skipped too
        clock.run_pass(runtime, "incremental")
        runtime.engine.dispose()
    assert ran == [1]


def test_program_due_runs_once_per_interval_too(runtime: Runtime,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.worker import due

    calls: list[int] = []
    monkeypatch.setattr(due, "run_due_work",
                        lambda runtime, now: calls.append(1) or due.DueWork())
    clock.run_program_due(runtime)
    clock.run_program_due(runtime)
    assert calls == [1]


# -- HubSpot is the truth ----------------------------------------------------------------


def test_a_full_pass_corrects_a_score_edited_by_hand_in_the_same_calls(
    sync_setup: SyncSetup,
) -> None:
    handle, runtime = sync_setup()
    first = run_sync(runtime, full=True)
    assert first.written == 50
    contact = handle.portal.live_contacts()[0]
    score = contact.properties["advocate_readiness_score"]
    assert score is not None and score != "99"
    handle.portal.update_contact(str(contact.id), {"advocate_readiness_score": "99",
                                                   "advocate_tier": "champion"},
                                 source="CRM_UI")
    handle.portal.update_contact(str(handle.portal.live_contacts()[1].id),
                                 {"advocate_score_reasons": ""}, source="CRM_UI")
    again = run_sync(runtime, full=True)
    assert again.edited_in_hubspot == 2 and again.written == 2
    assert again.api_calls == first.api_calls  # the same search page and one batch update
    fixed = handle.portal.get_contact(str(contact.id)).properties
    assert fixed["advocate_readiness_score"] == score
    assert any("edited in HubSpot: 2 contacts" in line for line in again.lines())
    unchanged = run_sync(runtime, full=True)  # nothing edited: nothing written
    assert unchanged.written == 0 and unchanged.edited_in_hubspot == 0
    assert unchanged.api_calls == again.api_calls - 1
