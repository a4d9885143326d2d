"""Workers on PostgreSQL: two share one inbox exactly once; a SIGKILLed one loses no event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fixtures_webhooks import contact_event
from sqlalchemy import func, select

from connector.db.models import InboxEvent
from connector.db.session import make_engine
from connector.queue.inbox import store_events
from connector.runtime import Runtime
from connector.sync import rescore
from connector.web.deliveries import parse_hubspot_events
from connector.worker.drain import drain_inbox

pytestmark = pytest.mark.postgres


def fill_inbox(engine, contacts: int) -> None:
    for start in range(1, contacts + 1, 100):
        events = [contact_event(i) for i in range(start, min(start + 100, contacts + 1))]
        store_events(engine, parse_hubspot_events(json.dumps(events).encode()))


def status_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))
        return {status: n for status, n in rows}


def test_two_workers_handle_every_event_exactly_once(settings, pg_engine, pg_database_url,
                                                     monkeypatch):
    fill_inbox(pg_engine, 600)
    handled: list[str] = []
    lock = threading.Lock()

    def fake(runtime, contact_ids, *, reason, isolate=False):
        time.sleep(0.01)  # long enough for the two workers to overlap
        with lock:
            handled.extend(contact_ids)
        return rescore.RescoreSummary(read=len(contact_ids))

    monkeypatch.setattr(rescore, "rescore_contacts", fake)
    runtimes = [Runtime(settings, engine=make_engine(pg_database_url)) for _ in range(2)]
    batches = [0, 0]

    def work(index: int) -> None:
        summary = drain_inbox(runtimes[index], batch_size=25)
        batches[index] = summary.batches

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for runtime in runtimes:
        runtime.engine.dispose()
    assert sorted(handled, key=int) == [str(i) for i in range(1, 601)]  # each once
    assert all(batches), f"both workers took batches: {batches}"
    assert status_counts(pg_engine) == {"done": 600}


WORKER_SCRIPT = """
import sys, time
from datetime import timedelta
from connector.config import Settings
from connector.runtime import Runtime
from connector.sync import flush as sync_flush
from connector.sync import rescore
from connector.worker.loop import WorkerOptions, run_worker

journal = sys.argv[1]

def slow_rescore(runtime, contact_ids, *, reason, isolate=False):
    with open(journal, "a") as f:
        f.write("start " + " ".join(contact_ids) + "\\n")
    time.sleep(0.3)
    with open(journal, "a") as f:
        f.write("done " + " ".join(contact_ids) + "\\n")
    return rescore.RescoreSummary(read=len(contact_ids))

rescore.rescore_contacts = slow_rescore
sync_flush.flush_outbox = lambda runtime: 0
run_worker(Runtime(Settings.from_env()),
           options=WorkerOptions(batch_size=20, lease=timedelta(seconds=2), idle_sleep_s=0.1))
"""


def start_worker(tmp_path: Path, database_url: str, journal: Path) -> subprocess.Popen[bytes]:
    script = tmp_path / "worker_under_test.py"
    script.write_text(textwrap.dedent(WORKER_SCRIPT))
    env = dict(os.environ, DATABASE_URL=database_url, HUBSPOT_ACCESS_TOKEN="t",
               HUBSPOT_CLIENT_SECRET="s", LOG_FORMAT="text")
    return subprocess.Popen([sys.executable, str(script), str(journal)], env=env,
                            cwd=Path(__file__).resolve().parent.parent)


def journal_lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_worker_killed_mid_batch_loses_no_event(tmp_path, pg_engine, pg_database_url):
    fill_inbox(pg_engine, 120)
    journal = tmp_path / "journal.txt"
    first = start_worker(tmp_path, pg_database_url, journal)
    try:
        # kill while a re-score is under way, after a couple of batches were finished
        wait_for(lambda: sum(x.startswith("done") for x in journal_lines(journal)) >= 2
                 and journal_lines(journal)[-1].startswith("start"))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert status_counts(pg_engine).get("processing", 0) >= 1  # the batch it held
    second = start_worker(tmp_path, pg_database_url, journal)
    try:
        wait_for(lambda: status_counts(pg_engine) == {"done": 120}, timeout=60)
        second.send_signal(signal.SIGTERM)  # graceful stop
        assert second.wait(timeout=10) == 0
    finally:
        if second.poll() is None:
            second.kill()
    done = {cid for line in journal_lines(journal) if line.startswith("done ")
            for cid in line.split()[1:]}
    assert done == {str(i) for i in range(1, 121)}
