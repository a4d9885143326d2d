"""Outbox flush against the sandbox: each item made once, merged writes, backoff, leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import AuditLog, ContactState, OutboxItem
from connector.db.session import transaction
from connector.queue import outbox
from connector.queue.outbox import enqueue
from connector.sync import flush as sync_flush
from connector.sync.flush import flush_outbox


def enroll_calls(stats: dict[str, Any]) -> int:
    return sum(n for route, n in stats["requests"].items() if "/enrollments/" in route)


def _items(runtime: Any) -> dict[str, OutboxItem]:
    with runtime.sessions() as session:
        return {i.idempotency_key: i for i in session.scalars(select(OutboxItem))}


def _setup(sync_setup: SyncSetup) -> tuple[Any, Any, list[Any], str]:
    handle, runtime = sync_setup()
    contacts = handle.portal.live_contacts()[:3]
    flow = handle.portal.flows.create({"type": "CONTACT_FLOW", "name": "Invite"})
    workflow_id = str(handle.portal.flows.legacy_ids[flow["id"]])
    with transaction(runtime.sessions) as session:
        first, second, third = (str(c.id) for c in contacts)
        enqueue(session, key="p1", kind="properties", contact_id=first,
                payload={"properties": {"referral_status": "invited"}})
        enqueue(session, key="p2", kind="properties", contact_id=first,
                payload={"properties": {"referral_link": "https://r.example/a"}})
        enqueue(session, key="p3", kind="properties", contact_id=second,
                payload={"properties": {"referral_status": "invited"}})
        enqueue(session, key="e1", kind="enroll", contact_id=third,
                payload={"workflow_id": workflow_id,
                         "email": contacts[2].properties["email"]})
    return handle, runtime, contacts, workflow_id


def test_flush_makes_each_item_once(sync_setup: SyncSetup) -> None:
    handle, runtime, contacts, workflow_id = _setup(sync_setup)
    assert flush_outbox(runtime) == 4
    stats = handle.stats()
    # two contacts' properties in one batch update, one enrollment call
    assert stats["requests"]["POST /crm/v3/objects/contacts/batch/update"] == 1
    assert enroll_calls(stats) == 1
    first = handle.portal.get_contact(contacts[0].id).properties
    assert (first["referral_status"], first["referral_link"]) == ("invited",
                                                                   "https://r.example/a")
    assert [e["contactId"] for e in handle.portal.flows.enrollments] == [str(contacts[2].id)]
    items = _items(runtime)
    assert {i.status for i in items.values()} == {"done"}
    assert items["e1"].payload == {"workflow_id": workflow_id, "email": None}
    # a replay: a second flush and a re-enqueue of the same keys send nothing
    with transaction(runtime.sessions) as session:
        assert not enqueue(session, key="e1", kind="enroll", contact_id="1", payload={})
    assert flush_outbox(runtime) == 0
    assert handle.stats()["requests"] == stats["requests"]
    with runtime.sessions() as session:
        state = session.get(ContactState, str(contacts[0].id))
        assert state is not None and state.written["referral_status"] == "invited"
        actions = sorted(a.action for a in session.scalars(select(AuditLog)))
        assert actions == ["enroll", "write", "write"]


def test_a_value_already_written_costs_no_call(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    contact_id = str(handle.portal.live_contacts()[0].id)
    with transaction(runtime.sessions) as session:
        session.add(ContactState(contact_id=contact_id, written={"referral_status": "invited"}))
        enqueue(session, key="k", kind="properties", contact_id=contact_id,
                payload={"properties": {"referral_status": "invited"}})
    assert flush_outbox(runtime) == 1
    assert handle.stats()["writes"] == 0
    assert _items(runtime)["k"].status == "done"


@pytest.mark.parametrize("crash_on", ["properties", "enroll"])
def test_a_crash_before_the_commit_repeats_the_item_after_the_lease(
    sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch, crash_on: str,
) -> None:
    handle, runtime, contacts, _workflow = _setup(sync_setup)
    real_done = outbox.mark_done

    def crash(*args: Any, **kwargs: Any) -> None:
        if ("payload" in kwargs) == (crash_on == "enroll"):
            raise SystemExit("killed between the HubSpot call and the commit")
        real_done(*args, **kwargs)

    monkeypatch.setattr(sync_flush, "mark_done", crash)
    with pytest.raises(SystemExit):
        flush_outbox(runtime)
    monkeypatch.setattr(sync_flush, "mark_done", real_done)
    waiting = {k for k, i in _items(runtime).items() if i.status == "processing"}
    assert waiting == ({"p1", "p2", "p3", "e1"} if crash_on == "properties" else {"e1"})
    assert flush_outbox(runtime) == 0  # leased: another worker leaves them alone
    writes = handle.stats()["writes"]
    later = datetime.now(UTC) + outbox.LEASE + timedelta(seconds=1)
    assert flush_outbox(runtime, now=later) == len(waiting)
    assert {i.status for i in _items(runtime).values()} == {"done"}
    if crash_on == "properties":
        # the same values were sent again: harmless, and `written` is right afterwards
        assert handle.stats()["writes"] == writes + 2
        assert len(handle.portal.flows.enrollments) == 1
    else:
        # what stays at-least-once: an enrollment sent just before the process died
        assert len(handle.portal.flows.enrollments) == 2
    assert flush_outbox(runtime, now=later + outbox.LEASE) == 0


def test_failures_back_off_and_end_dead(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    contact = handle.portal.live_contacts()[0]
    with transaction(runtime.sessions) as session:
        enqueue(session, key="bad", kind="enroll", contact_id=str(contact.id),
                payload={"workflow_id": "404404", "email": contact.properties["email"]})
    now = datetime.now(UTC)
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert flush_outbox(runtime, now=now) == 0
        item = _items(runtime)["bad"]
        assert item.attempts == attempt and item.last_error
        if attempt < outbox.MAX_ATTEMPTS:
            assert item.status == "pending"
            wait = item.next_attempt_at.replace(tzinfo=item.next_attempt_at.tzinfo or UTC) - now
            assert wait == outbox.backoff(attempt)
            assert flush_outbox(runtime, now=now) == 0  # not due yet
            now += wait
    assert _items(runtime)["bad"].status == "dead"
    assert flush_outbox(runtime, now=now + timedelta(days=1)) == 0


@pytest.mark.postgres
def test_two_workers_share_the_outbox_on_postgres(
    sync_setup: SyncSetup, pg_engine: Any,
) -> None:
    handle, runtime = sync_setup(engine=pg_engine)
    contacts = handle.portal.live_contacts()
    with transaction(runtime.sessions) as session:
        for contact in contacts:
            enqueue(session, key=f"status:{contact.id}", kind="properties",
                    contact_id=str(contact.id),
                    payload={"properties": {"referral_status": "invited"}})
    sent: list[int] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        sent.append(flush_outbox(runtime, limit=30))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.append(flush_outbox(runtime))  # whatever one worker's limit left behind
    assert sum(sent) == len(contacts)
    items = _items(runtime)
    assert all(i.status == "done" and i.attempts == 1 for i in items.values())
    assert handle.stats()["writes"] == len(contacts)
