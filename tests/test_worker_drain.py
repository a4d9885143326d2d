"""The worker drains the inbox: one re-score per contact, removals, backoff, dead letters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fixtures_webhooks import HubSpotSigner, contact_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.db.models import InboxEvent, utcnow
from connector.program import hooks
from connector.queue.inbox import backoff, list_events, replay, store_events
from connector.runtime import Runtime
from connector.sync import flush as sync_flush
from connector.sync import rescore
from connector.web.app import create_app
from connector.web.deliveries import parse_hubspot_events, parse_workflow_event
from connector.worker import loop
from connector.worker.drain import drain_inbox


@pytest.fixture
def worker_runtime(settings, engine) -> Runtime:
    """A runtime on SQLite and on PostgreSQL."""
    return Runtime(settings, engine=engine)


class FakeRescore:
    """Records every rescore_contacts call; can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.error: Exception | None = None

    def __call__(self, runtime, contact_ids, *, reason, isolate=False):
        assert reason == "webhook" and isolate
        self.calls.append(list(contact_ids))
        if self.error:
            raise self.error
        return rescore.RescoreSummary(read=len(contact_ids))


@pytest.fixture
def fake_rescore(monkeypatch) -> FakeRescore:
    fake = FakeRescore()
    monkeypatch.setattr(rescore, "rescore_contacts", fake)
    return fake


@pytest.fixture
def removals(monkeypatch) -> list[tuple[str, str, str | None]]:
    seen: list[tuple[str, str, str | None]] = []

    def on_removed(session, runtime, contact_id, kind, merged_into, now):
        seen.append((contact_id, kind, merged_into))

    monkeypatch.setattr(hooks, "on_contact_removed", on_removed)
    return seen


def put(runtime: Runtime, *events: dict) -> None:
    store_events(runtime.engine, parse_hubspot_events(json.dumps(list(events)).encode()))


def statuses(runtime: Runtime) -> dict[str, str]:
    with Session(runtime.engine) as session:
        return {e.object_id or "": e.status for e in session.scalars(select(InboxEvent))}


def test_events_for_one_contact_collapse_into_one_rescore(worker_runtime, fake_rescore):
    put(worker_runtime, contact_event(1, event_id=1), contact_event(1, event_id=2),
        contact_event(2, event_id=3, subscriptionType="contact.creation"))
    summary = drain_inbox(worker_runtime)
    assert len(fake_rescore.calls) == 1
    assert sorted(fake_rescore.calls[0]) == ["1", "2"]
    assert summary.handled == 3 and summary.rescored == 2
    assert set(statuses(worker_runtime).values()) == {"done"}
    assert drain_inbox(worker_runtime).handled == 0
    assert len(fake_rescore.calls) == 1


def test_removals_go_to_the_program_and_are_not_rescored(worker_runtime, fake_rescore, removals):
    put(worker_runtime,
        contact_event(5, event_id=1, subscriptionType="contact.deletion"),
        contact_event(5, event_id=2),
        contact_event(6, event_id=3, subscriptionType="contact.privacyDeletion"))
    drain_inbox(worker_runtime)
    assert sorted(removals) == [("5", "deletion", None), ("6", "privacy_deletion", None)]
    assert fake_rescore.calls == []
    assert set(statuses(worker_runtime).values()) == {"done"}


def test_merge_removes_the_merged_away_and_rescores_the_survivor(
        worker_runtime, fake_rescore, removals):
    put(worker_runtime, contact_event(
        10, event_id=1, subscriptionType="contact.merge", primaryObjectId=10,
        mergedObjectIds=[11, 12], newObjectId=10))
    drain_inbox(worker_runtime)
    assert sorted(removals) == [("11", "merge", "10"), ("12", "merge", "10")]
    assert fake_rescore.calls == [["10"]]
    assert statuses(worker_runtime) == {"10": "done"}


def test_workflow_actions_rescore_their_object(worker_runtime, fake_rescore):
    store_events(worker_runtime.engine, [parse_workflow_event("nps", b'{"hs_object_id": "77"}')])
    drain_inbox(worker_runtime)
    assert fake_rescore.calls == [["77"]]


def test_other_objects_are_marked_done_without_effects(worker_runtime, fake_rescore):
    put(worker_runtime, contact_event(3, subscriptionType="deal.propertyChange"))
    assert drain_inbox(worker_runtime).handled == 1
    assert fake_rescore.calls == []


def test_failure_is_retried_with_backoff_and_the_error_is_scrubbed(worker_runtime, fake_rescore):
    fake_rescore.error = RuntimeError("HubSpot said no for ada@example.com with test-token")
    put(worker_runtime, contact_event(1))
    summary = drain_inbox(worker_runtime)
    assert summary.retried == 1 and summary.handled == 0
    with Session(worker_runtime.engine) as session:
        row = session.scalars(select(InboxEvent)).one()
    assert row.status == "pending" and row.attempts == 1
    assert "ada@example.com" not in row.last_error and "test-token" not in row.last_error
    assert "RuntimeError" in row.last_error
    due = row.next_attempt_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
    assert timedelta(seconds=5) < due <= backoff(1)
    assert drain_inbox(worker_runtime).retried == 0  # not due yet


def test_backoff_grows_and_is_capped():
    assert backoff(1) < backoff(2) < backoff(3)
    assert backoff(40) == backoff(50) == timedelta(hours=1)


def make_due(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_event_ends_dead_after_max_attempts_and_replay_revives_it(worker_runtime, fake_rescore):
    fake_rescore.error = RuntimeError("boom")
    put(worker_runtime, contact_event(1))
    for _ in range(3):
        drain_inbox(worker_runtime, max_attempts=3)
        make_due(worker_runtime)
    (row,) = list_events(worker_runtime.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 3, "RuntimeError: boom")
    assert list_events(worker_runtime.engine, status="dead")[0]["event_id"] == "10"
    fake_rescore.error = None
    assert replay(worker_runtime.engine, dead=True) == 1
    assert list_events(worker_runtime.engine)[0]["attempts"] == 0
    assert drain_inbox(worker_runtime).handled == 1
    assert list_events(worker_runtime.engine)[0]["status"] == "done"


def test_an_expired_lease_is_claimed_again_a_live_one_is_not(worker_runtime, fake_rescore):
    put(worker_runtime, contact_event(1))
    with worker_runtime.engine.begin() as conn:  # as if a worker died holding it
        conn.execute(update(InboxEvent).values(
            status="processing", attempts=1, next_attempt_at=utcnow() + timedelta(minutes=1)))
    assert drain_inbox(worker_runtime).handled == 0
    with worker_runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert drain_inbox(worker_runtime).handled == 1
    assert list_events(worker_runtime.engine)[0]["attempts"] == 2


def test_an_event_that_keeps_killing_its_worker_ends_dead(worker_runtime, fake_rescore):
    put(worker_runtime, contact_event(1))
    with worker_runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(status="processing", attempts=8,
                                               next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert drain_inbox(worker_runtime).dead == 1
    assert fake_rescore.calls == []


def test_same_batch_posted_twice_is_stored_once_and_handled_once(runtime, fake_rescore):
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "http://connector.test")
    events = [contact_event(i) for i in range(1, 51)]
    assert signer.post(client, events).status_code == 204
    drain_inbox(runtime)
    assert signer.post(client, [dict(e, attemptNumber=1) for e in events]).status_code == 204
    drain_inbox(runtime)
    assert len(fake_rescore.calls) == 1 and len(fake_rescore.calls[0]) == 50


def test_run_worker_once_drains_then_flushes(runtime, fake_rescore, monkeypatch):
    order: list[str] = []
    monkeypatch.setattr(sync_flush, "flush_outbox", lambda rt: order.append("flush") or 0,
                        raising=False)
    put(runtime, contact_event(1))
    loop.run_worker(runtime, once=True)
    assert fake_rescore.calls == [["1"]] and order == ["flush"]


def test_run_worker_loop_stops_when_asked(runtime, fake_rescore, monkeypatch):
    stop = loop.StopFlag()
    passes: list[int] = []

    def flush(rt):
        passes.append(1)
        if len(passes) >= 3:
            stop.event.set()
        return 0

    monkeypatch.setattr(sync_flush, "flush_outbox", flush, raising=False)
    put(runtime, contact_event(1))
    loop.run_worker(runtime, options=loop.WorkerOptions(idle_sleep_s=0.01), stop=stop)
    assert len(passes) == 3 and fake_rescore.calls == [["1"]]


def test_contacts_the_rescore_reports_failed_are_retried(worker_runtime, monkeypatch):
    def partly(runtime, contact_ids, *, reason, isolate=False):
        return rescore.RescoreSummary(read=len(contact_ids), failed=["2"])

    monkeypatch.setattr(rescore, "rescore_contacts", partly)
    put(worker_runtime, contact_event(1), contact_event(2))
    summary = drain_inbox(worker_runtime)
    assert (summary.handled, summary.retried) == (1, 1)
    assert statuses(worker_runtime) == {"1": "done", "2": "pending"}
    assert "contacts 2" in list_events(worker_runtime.engine, status="pending")[0]["last_error"]


def test_with_clock_runs_the_clocks_scheduler_and_stops_it(runtime, fake_rescore, monkeypatch):
    from connector.worker import clock

    events: list[str] = []

    class FakeScheduler:
        def start(self):
            events.append("start")

        def shutdown(self, wait=True):
            events.append("shutdown")

    def build(rt, blocking=True):
        assert blocking is False and rt is runtime
        return FakeScheduler()

    monkeypatch.setattr(clock, "build_scheduler", build)
    stop = loop.StopFlag()

    def flush(rt):
        stop.event.set()
        return 0

    monkeypatch.setattr(sync_flush, "flush_outbox", flush, raising=False)
    loop.run_worker(runtime, with_clock=True, stop=stop,
                    options=loop.WorkerOptions(idle_sleep_s=0.01))
    assert events == ["start", "shutdown"]


def test_a_failing_pass_is_logged_and_retried_not_fatal(runtime, monkeypatch):
    stop = loop.StopFlag()
    passes: list[int] = []

    def flaky(rt, options, pay=True):
        passes.append(1)
        if len(passes) == 1:
            raise ConnectionError("database went away")
        stop.event.set()
        return loop.DrainSummary(), 0

    monkeypatch.setattr(loop, "work_once", flaky)
    loop.run_worker(runtime, stop=stop, options=loop.WorkerOptions(idle_sleep_s=0.01))
    assert len(passes) == 2


def test_old_done_events_are_pruned_others_kept(runtime, fake_rescore):
    from connector.queue.inbox import prune_handled

    put(runtime, contact_event(1), contact_event(2), contact_event(3))
    drain_inbox(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).where(InboxEvent.object_id == "1")
                     .values(processed_at=utcnow() - timedelta(days=8)))
        conn.execute(update(InboxEvent).where(InboxEvent.object_id == "3")
                     .values(status="dead", processed_at=utcnow() - timedelta(days=8)))
    assert prune_handled(runtime.engine, utcnow() - timedelta(days=7)) == 1
    assert sorted(statuses(runtime)) == ["2", "3"]
