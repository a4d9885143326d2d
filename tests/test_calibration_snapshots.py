"""Readiness snapshots: taken at each invitation and reminder, erased with the person, moved by a
merge, never taken when the program does not ask."""

from __future__ import annotations

from datetime import datetime, timedelta

from fixtures_program import NOW, ProgramHarness
from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import ContactState, ReadinessSnapshot
from connector.db.session import transaction
from connector.hubspot.gateway import Contact
from connector.program import hooks
from connector.program.dates import hubspot_time
from connector.scoring.engine import score_contact
from connector.sync.actions import answer_action

PROMOTER = {"lifecyclestage": "customer", "hs_feedback_last_nps_rating": "10",
            "hs_feedback_last_survey_date": hubspot_time(NOW - timedelta(days=5)),
            "product_logins_30d": "30", "success_milestones_reached": "5",
            "support_csat_score": "5", "hs_lifecyclestage_customer_date":
                hubspot_time(NOW - timedelta(days=400))}


def ask(harness: ProgramHarness, contact_id: str, now: datetime = NOW,
        **overrides: str) -> dict[str, str]:
    """Score a contact with the real mapping and run the program on it, as a sync page does."""
    runtime = harness.runtime
    props = {"email": f"advocate{contact_id}@example.com", **PROMOTER, **overrides}
    contact = Contact(id=contact_id, properties=props, created_at=NOW - timedelta(days=500))
    readiness = score_contact(props, runtime.mapping, now)
    with transaction(runtime.sessions) as session:
        state = session.get(ContactState, contact_id)
        if state is None:
            state = ContactState(contact_id=contact_id, journey_state="none", written={})
            session.add(state)
        state.tier = readiness.tier
        return hooks.on_contact(session, runtime, contact, readiness, state, now)


def snapshots(harness: ProgramHarness) -> list[ReadinessSnapshot]:
    with harness.runtime.sessions() as session:
        return list(session.scalars(select(ReadinessSnapshot).order_by(ReadinessSnapshot.id)))


def test_an_invitation_and_each_reminder_keep_the_score_they_were_sent_on(
        program_harness: ProgramHarness) -> None:
    mapping = program_harness.runtime.mapping
    ask(program_harness, "1")
    ask(program_harness, "1", now=NOW + timedelta(days=1))  # nothing due: no snapshot
    delay = timedelta(days=program_harness.program.reminder_delay_days)
    ask(program_harness, "1", now=NOW + delay, product_logins_30d="10")
    rows = snapshots(program_harness)
    assert [(r.contact_id, r.step) for r in rows] == [("1", "invitation"), ("1", "reminder")]
    first, second = rows
    assert first.tier in ("champion", "ready")
    assert first.mapping_version == mapping.version
    assert first.signals_version == mapping.signals_version
    assert set(first.shares) == {s.key for s in mapping.signals}
    assert first.shares["nps"] == 1.0 and first.shares["product_usage"] == 1.0
    assert second.shares["product_usage"] == 0.5  # the reminder's own score
    assert second.score < first.score
    # shares only: no property value is kept
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in first.shares.values())
    rebuilt = sum(first.shares[s.key] * s.points for s in mapping.signals)
    assert first.score == int(rebuilt + 0.5)


def test_no_snapshot_when_the_program_does_not_ask(program_harness: ProgramHarness) -> None:
    ask(program_harness, "1", hs_feedback_last_nps_rating="2")  # recent detractor: excluded
    ask(program_harness, "2", product_logins_30d="0", success_milestones_reached="0",
        hs_feedback_last_nps_rating="7", support_csat_score="2")  # below ready
    assert snapshots(program_harness) == []


def test_a_privacy_deletion_removes_the_snapshots_and_a_deletion_keeps_them(
        program_harness: ProgramHarness) -> None:
    ask(program_harness, "1")
    ask(program_harness, "2")
    with transaction(program_harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, program_harness.runtime, "1",
                                 "contact.privacyDeletion", None, NOW + timedelta(days=2))
        hooks.on_contact_removed(session, program_harness.runtime, "2", "contact.deletion",
                                 None, NOW + timedelta(days=2))
    assert [r.contact_id for r in snapshots(program_harness)] == ["2"]


def test_a_merge_moves_the_snapshots_to_the_survivor(program_harness: ProgramHarness) -> None:
    ask(program_harness, "1")
    ask(program_harness, "5")
    for _ in range(2):  # the merge event again changes nothing more
        with transaction(program_harness.runtime.sessions) as session:
            hooks.on_contact_removed(session, program_harness.runtime, "1", "contact.merge",
                                     "5", NOW + timedelta(days=2))
    assert [r.contact_id for r in snapshots(program_harness)] == ["5", "5"]


def test_an_invitation_a_workflow_asks_for_keeps_its_snapshot_once(
        sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup(contacts=0)
    now = datetime.now(NOW.tzinfo)
    props = {**PROMOTER, "email": "asked.by.workflow@example.com",
             "hs_feedback_last_survey_date": hubspot_time(now - timedelta(days=5)),
             "hs_lifecyclestage_customer_date": hubspot_time(now - timedelta(days=400))}
    contact_id = str(handle.portal.create_contact(props).id)
    for _ in range(2):  # HubSpot retries the same execution: one invitation, one snapshot
        fields = answer_action(runtime, "invite", callback_id="cb-1", contact_id=contact_id,
                               now=now)
        assert fields["eligible"] is True
    with runtime.sessions() as session:
        rows = list(session.scalars(select(ReadinessSnapshot)))
    assert [(r.contact_id, r.step) for r in rows] == [(contact_id, "invitation")]
    assert rows[0].score >= 80
