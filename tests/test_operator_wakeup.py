"""Milestones in 300 ms: on PostgreSQL the receiver's INSERT notifies the workers' LISTEN
connection when it commits, so an idle worker starts at once instead of at its next poll."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fixtures_webhooks import contact_event
from sqlalchemy import Engine, func, select

from connector.db.models import InboxEvent
from connector.db.session import make_engine
from connector.queue.inbox import store_events
from connector.runtime import Runtime
from connector.sync import flush as sync_flush
from connector.sync import rescore
from connector.web.deliveries import parse_hubspot_events
from connector.worker.loop import StopFlag, WorkerOptions, run_worker
from connector.worker.wakeup import InboxWakeup


def store(engine: Engine, contact_id: int) -> None:
    events = [contact_event(contact_id, event_id=contact_id * 7)]
    store_events(engine, parse_hubspot_events(json.dumps(events).encode()))


def done(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(InboxEvent)
                               .where(InboxEvent.status == "done")) or 0)


@pytest.mark.postgres
def test_storing_events_wakes_a_listening_worker(pg_engine: Engine) -> None:
    stop = threading.Event()
    wakeup = InboxWakeup(pg_engine, stop)
    wakeup.start()
    try:
        started = time.monotonic()
        assert wakeup.wait(0.2) is False  # nothing stored: the full wait
        assert time.monotonic() - started >= 0.2
        store(pg_engine, 1)
        started = time.monotonic()
        assert wakeup.wait(5.0) is True
        assert time.monotonic() - started < 0.5
        store(pg_engine, 1)  # a delivery of duplicates only wakes it too (a harmless look)
        assert wakeup.wait(5.0) is True
    finally:
        wakeup.close()


@pytest.mark.postgres
def test_an_idle_worker_handles_new_events_long_before_its_next_poll(
    settings, pg_engine: Engine, pg_database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rescore, "rescore_contacts",
                        lambda runtime, ids, *, reason, isolate=False: rescore.RescoreSummary(
                            read=len(ids)))
    monkeypatch.setattr(sync_flush, "flush_outbox", lambda runtime: 0)
    runtime = Runtime(settings, engine=make_engine(pg_database_url))
    stop = StopFlag()
    options = WorkerOptions(idle_sleep_s=10.0)  # a poll this slow would take seconds
    worker = threading.Thread(target=run_worker, args=(runtime,),
                              kwargs={"options": options, "stop": stop})
    worker.start()
    try:
        time.sleep(0.5)  # the worker found nothing and waits
        latencies = []
        for contact_id in range(1, 6):
            started = time.monotonic()
            store(pg_engine, contact_id)
            while done(pg_engine) < contact_id:
                assert time.monotonic() - started < 5, "the worker waited for its poll"
                time.sleep(0.005)
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 0.5, latencies
    finally:
        stop.event.set()
        stopped = time.monotonic()
        worker.join(timeout=15)
        runtime.engine.dispose()
    assert time.monotonic() - stopped < 2  # a stop is seen mid-wait, not after the poll


def test_sqlite_keeps_polling(runtime: Runtime) -> None:
    stop = threading.Event()
    wakeup = InboxWakeup(runtime.engine, stop)
    wakeup.start()
    started = time.monotonic()
    assert wakeup.wait(0.1) is False
    assert time.monotonic() - started >= 0.1
    wakeup.close()
