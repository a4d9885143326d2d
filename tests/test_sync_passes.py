"""Sync passes against the sandbox over real HTTP: write-back, idempotence, resume, dry run."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fixtures_sync import SyncSetup
from sqlalchemy import func, select

from connector.db.models import AuditLog, ContactState, SyncCursor
from connector.program import hooks
from connector.scoring.engine import score_contact
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts

SEARCH = "POST /crm/v3/objects/contacts/search"


def portal_props(handle: Any, contact_id: str | int) -> dict[str, str]:
    return dict(handle.portal.get_contact(contact_id).properties)


def searches(handle: Any) -> int:
    return int(handle.stats()["requests"].get(SEARCH, 0))


def test_full_sync_scores_every_contact_and_a_second_run_writes_nothing(
    sync_setup: SyncSetup,
) -> None:
    handle, runtime = sync_setup()
    schema = runtime.property_schema
    first = run_sync(runtime)
    contacts = handle.portal.live_contacts()
    assert first.mode == "full" and first.read == len(contacts) == 50
    assert first.written == first.changed == 50 and first.failed == 0
    for contact in contacts:
        props = portal_props(handle, contact.id)
        # the values on the record are the engine's, read back over the API's storage
        assert props[schema.name("score")].isdigit()
        assert props[schema.name("tier")] in ("champion", "ready", "nurture", "not_ready",
                                              "excluded")
        assert props[schema.name("reasons")]
        assert props[schema.name("scored_at")].endswith("Z")
    writes = handle.stats()["writes"]
    second = run_sync(runtime, full=True)
    third = run_sync(runtime)  # incremental: our own writes moved lastmodifieddate
    assert (second.written, second.changed, third.written) == (0, 0, 0)
    assert handle.stats()["writes"] == writes
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "write")) == 50
        full = session.get(SyncCursor, "full")
        assert full is not None and full.last_status == "ok" and full.object_id is None
        assert full.last_summary and full.last_summary["written"] == 0


def test_excluded_contacts_carry_their_guardrail_reason(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup(contacts=300)
    schema = runtime.property_schema
    summary = run_sync(runtime)
    seen: set[str] = set()
    now = datetime.now(UTC)
    for contact in handle.portal.live_contacts():
        props = portal_props(handle, contact.id)
        readiness = score_contact(props, runtime.mapping, now)
        if readiness.guardrails:
            assert props[schema.name("tier")] == "excluded"
            for reason in readiness.guardrails:
                assert f"{reason} (excluded)" in props[schema.name("reasons")]
            seen.update(readiness.guardrails)
    assert seen == {g.reason for g in runtime.mapping.guardrails}
    assert set(summary.excluded) == seen


def test_incremental_pass_picks_up_an_edit_the_search_index_shows_late(
    sync_setup: SyncSetup,
) -> None:
    handle, runtime = sync_setup(search_lag_s=1.0)
    schema = runtime.property_schema
    time.sleep(1.1)  # the seed, too, becomes searchable after the lag
    assert run_sync(runtime).written == 50
    target = next(c for c in handle.portal.live_contacts()
                  if portal_props(handle, c.id)[schema.name("tier")] != "excluded")
    handle.portal.update_contact(target.id, {"open_support_escalations": "2"})
    # the edit is older than this run's start, but not searchable yet
    run_sync(runtime)
    assert portal_props(handle, target.id)[schema.name("tier")] != "excluded"
    time.sleep(1.2)
    later = run_sync(runtime)
    assert later.mode == "incremental"
    props = portal_props(handle, target.id)
    assert props[schema.name("tier")] == "excluded"
    assert "open escalation (excluded)" in props[schema.name("reasons")]


def test_a_killed_full_pass_resumes_after_the_last_page_written(
    sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle, runtime = sync_setup(contacts=1000)  # 5 search pages of 200

    def real(*args: Any, **kwargs: Any) -> dict[str, str]:
        return {}  # the program's own work is beside the point here, and costs time

    calls = {"n": 0}

    def dies_on_page_three(*args: Any, **kwargs: Any) -> dict[str, str]:
        calls["n"] += 1
        if calls["n"] == 2 * 200 + 17:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(hooks, "on_contact", dies_on_page_three)
    with pytest.raises(RuntimeError, match="killed"):
        run_sync(runtime)
    assert handle.stats()["writes"] == 400
    with runtime.sessions() as session:
        cursor = session.get(SyncCursor, "full")
        assert cursor is not None and cursor.last_status == "error"
        assert cursor.object_id == max(int(c.id) for c in handle.portal.live_contacts()[:400])
    monkeypatch.setattr(hooks, "on_contact", real)
    resumed = run_sync(runtime)
    assert resumed.mode == "full" and resumed.read == 600
    # every contact written exactly once; re-read: the page in flight and one read ahead
    assert handle.stats()["writes"] == 1000
    assert searches(handle) <= 5 + 2
    score = runtime.property_schema.name("score")
    assert all(portal_props(handle, c.id).get(score) for c in handle.portal.live_contacts())
    with runtime.sessions() as session:
        cursor = session.get(SyncCursor, "full")
        assert cursor is not None and cursor.object_id is None and cursor.last_status == "ok"
    assert run_sync(runtime, full=True).read == 1000  # a completed pass starts over


def test_dry_run_writes_nothing_and_shows_a_sample(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    summary = run_sync(runtime, dry_run=True)
    assert summary.changed == 50 and summary.written == 0
    assert handle.stats()["writes"] == 0
    assert summary.sample and "advocate_readiness_score" in summary.sample[0]["changes"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ContactState)) == 0
        assert session.scalar(select(func.count()).select_from(SyncCursor)) == 0
    assert run_sync(runtime).written == 50  # and the real run after it still writes


def test_refused_writes_are_counted_and_retried_by_the_next_incremental_pass(
    sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle, runtime = sync_setup()
    code = runtime.property_schema.name("referral_code")
    ids = sorted(int(c.id) for c in handle.portal.live_contacts())[:2]

    def same_code(session: Any, runtime: Any, contact: Any, *rest: Any) -> dict[str, str]:
        return {code: "DUPE42"} if int(contact.id) in ids else {}

    monkeypatch.setattr(hooks, "on_contact", same_code)
    first = run_sync(runtime)
    # referral_code is unique: HubSpot accepts one holder and answers 207 for the other
    assert (first.written, first.failed) == (49, 1)
    loser = first.failed_ids[0]
    assert portal_props(handle, loser).get(code) is None

    def distinct_codes(session: Any, runtime: Any, contact: Any, *rest: Any) -> dict[str, str]:
        return {code: f"CODE{contact.id}"} if int(contact.id) in ids else {}

    monkeypatch.setattr(hooks, "on_contact", distinct_codes)
    second = run_sync(runtime)
    assert second.mode == "incremental" and second.failed == 0
    assert portal_props(handle, loser)[code] == f"CODE{loser}"
    with runtime.sessions() as session:
        retry = session.get(SyncCursor, "retry")
        assert retry is not None and retry.last_summary == {"contact_ids": []}


def test_rescore_reports_contacts_hubspot_no_longer_has(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    ids = [str(c.id) for c in handle.portal.live_contacts()[:3]]
    handle.portal.archive_contact(ids[0])
    summary = rescore_contacts(runtime, [*ids, "999999"], reason="webhook")
    assert summary.read == 2 and summary.written == 2
    assert sorted(summary.missing) == sorted([ids[0], "999999"])
    again = rescore_contacts(runtime, ids[1:], reason="webhook")
    assert (again.read, again.changed, again.written) == (2, 0, 0)


@pytest.mark.postgres
def test_sync_on_postgres_writes_once_and_checkpoints(
    sync_setup: SyncSetup, pg_engine: Any,
) -> None:
    handle, runtime = sync_setup(engine=pg_engine, contacts=450)
    first = run_sync(runtime)
    assert (first.read, first.written, first.pages) == (450, 450, 3)
    assert run_sync(runtime).written == 0 and run_sync(runtime, full=True).written == 0
    assert handle.stats()["writes"] == 450
    with runtime.sessions() as session:
        incremental = session.get(SyncCursor, "incremental")
        assert incremental is not None and incremental.last_status == "ok"
        assert incremental.modified_ms is not None
