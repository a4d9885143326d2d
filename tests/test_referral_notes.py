"""A referral on both records in HubSpot, over real HTTP against the sandbox: a note for the
referral, the conversion and each reward, associated with the advocate and the friend, and the
"Referred by" / "Referred" label between them; once each across replays and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from fixtures_sync import SyncSetup
from sqlalchemy import select, update

from connector.cli.installer import Installer
from connector.db.models import ContactState, OutboxItem
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts

TOKEN = {"Authorization": "Bearer sandbox-token"}


def v4(handle: Any, contact_id: str, to: str) -> list[dict[str, Any]]:
    """HubSpot's v4 read of a contact's associations, as an admin would call it."""
    answer = requests.get(f"{handle.url}/crm/v4/objects/contacts/{contact_id}/associations/{to}",
                          headers=TOKEN, timeout=5)
    assert answer.status_code == 200
    return list(answer.json()["results"])


def note_bodies(handle: Any, contact_id: str) -> list[str]:
    ids = [{"id": str(r["toObjectId"])} for r in v4(handle, contact_id, "notes")]
    answer = requests.post(f"{handle.url}/crm/v3/objects/notes/batch/read", headers=TOKEN,
                           json={"inputs": ids, "properties": ["hs_note_body"]}, timeout=5)
    return sorted(r["properties"]["hs_note_body"] for r in answer.json()["results"])


def journey(sync_setup: SyncSetup, **sandbox: Any) -> tuple[Any, Any, Any, str, str]:
    """Install, sync, and a friend signing up with the first advocate's code."""
    handle, runtime = sync_setup(**sandbox)
    plan = Installer(runtime.gateway, runtime.property_schema, runtime.program).plan()
    plan.apply()
    run_sync(runtime)
    flush_outbox(runtime)
    with runtime.sessions() as session:
        advocate = session.scalars(select(ContactState).where(
            ContactState.referral_code.is_not(None)).order_by(ContactState.contact_id)).first()
    assert advocate is not None and advocate.referral_code
    handle.portal.update_contact(advocate.contact_id, {"firstname": "Ada", "lastname": "Lovel"})
    friend = handle.portal.create_contact({
        "email": "grace@friends.test", "firstname": "Grace", "lastname": "Hopp",
        "lifecyclestage": "lead", "referred_by_code": advocate.referral_code})
    rescore_contacts(runtime, [str(friend.id)], reason="contact.creation")
    flush_outbox(runtime)
    return handle, runtime, plan, advocate.contact_id, str(friend.id)


def test_notes_and_the_label_show_the_referral_on_both_records_once(
        sync_setup: SyncSetup) -> None:
    handle, runtime, plan, advocate, friend = journey(sync_setup)
    [label] = [s for s in plan.steps if s.kind == "label"]
    assert label.action == "created"
    [note] = note_bodies(handle, advocate)
    assert note_bodies(handle, friend) == [note]  # one note, on both records
    code = handle.portal.get_contact(advocate).properties["referral_code"]
    assert f"Ada Lovel referred Grace Hopp with the referral code {code}." in note
    by = v4(handle, friend, "contacts")
    assert [(r["toObjectId"], [t["label"] for t in r["associationTypes"]]) for r in by] == [
        (int(advocate), ["Referred by"])]
    assert [[t["label"] for t in r["associationTypes"]]
            for r in v4(handle, advocate, "contacts")] == [["Referred"]]

    created = handle.portal.get_contact(friend).properties["createdate"]
    handle.portal.update_contact(friend, {"lifecyclestage": "customer",
                                          "hs_lifecyclestage_customer_date": created})
    rescore_contacts(runtime, [friend], reason="contact.propertyChange")
    flush_outbox(runtime)
    notes = note_bodies(handle, advocate)
    assert len(notes) == 4 and note_bodies(handle, friend) == notes
    text = "\n".join(notes)
    assert "Grace Hopp, referred by Ada Lovel with the code" in text
    assert "Referral reward for Ada Lovel: $50 gift card (50 USD)" in text
    assert "Referral reward for Grace Hopp: 20% off the first invoice (20 USD)" in text
    assert text.count("Held until ") == 2  # the program's 30-day hold, with its end date

    calls = handle.stats()["requests"]
    for _ in range(3):  # webhook replays, overlapping syncs, the worker going round
        rescore_contacts(runtime, [friend, advocate], reason="replay")
        run_sync(runtime, full=True)
        flush_outbox(runtime)
    assert note_bodies(handle, advocate) == notes
    assert handle.stats()["requests"].get("POST /crm/v3/objects/notes/batch/create") == \
        calls.get("POST /crm/v3/objects/notes/batch/create")


def test_a_note_sent_again_after_a_lost_answer_is_not_made_twice(
        sync_setup: SyncSetup) -> None:
    handle, runtime, _, advocate, _friend = journey(sync_setup)
    assert len(note_bodies(handle, advocate)) == 1
    # the process died after HubSpot made the note, before it marked the item done: the
    # item comes back when its lease ends, claimed a second time
    with runtime.sessions.begin() as session:
        changed = session.execute(update(OutboxItem).where(OutboxItem.kind == "note").values(
            status="processing", attempts=1, done_at=None,
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))).rowcount
    assert changed == 1
    flush_outbox(runtime)
    assert len(note_bodies(handle, advocate)) == 1
    with runtime.sessions() as session:
        assert [i.status for i in session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "note"))] == ["done"], [
            i.last_error for i in session.scalars(select(OutboxItem))]


def test_a_portal_without_custom_labels_gets_the_notes_and_no_label(
        sync_setup: SyncSetup) -> None:
    handle, runtime, plan, advocate, friend = journey(sync_setup, association_labels=False)
    [label] = [s for s in plan.steps if s.kind == "label"]
    assert label.action == "skipped" and "403" in label.detail
    assert len(note_bodies(handle, advocate)) == 1
    assert v4(handle, friend, "contacts") == []
    with runtime.sessions() as session:
        [link] = session.scalars(select(OutboxItem).where(OutboxItem.kind == "link")).all()
    assert link.status == "done" and link.payload["skipped"].startswith("no Referred by")


def test_a_paid_reward_says_so_in_a_note_with_its_reference(sync_setup: SyncSetup) -> None:
    from fixtures_payouts import fast_client, paying_runtime

    from connector.db.models import RewardLedger
    from connector.db.session import transaction
    from connector.worker.payouts import pay_rewards

    handle, runtime, _plan, advocate, friend = journey(sync_setup)
    created = handle.portal.get_contact(friend).properties["createdate"]
    handle.portal.update_contact(friend, {"lifecyclestage": "customer",
                                          "hs_lifecyclestage_customer_date": created})
    rescore_contacts(runtime, [friend], reason="contact.propertyChange")
    flush_outbox(runtime)
    with transaction(runtime.sessions) as session:  # the hold is over
        session.execute(update(RewardLedger).where(RewardLedger.role == "advocate")
                        .values(status="payable"))
    paying = paying_runtime(handle, runtime)
    assert pay_rewards(paying, client_factory=fast_client).paid == 1
    flush_outbox(paying)
    with runtime.sessions() as session:
        reward = session.scalars(select(RewardLedger).where(
            RewardLedger.role == "advocate")).one()
    [paid] = [n for n in note_bodies(handle, advocate) if "reward paid" in n]
    assert f"Referral reward paid to Ada Lovel on {datetime.now(UTC).date().isoformat()} " \
           f"through Tremendous: $50 gift card (50 USD), reference {reward.payout_reference}." \
           in paid
    assert paid in note_bodies(handle, friend)  # on both records
    assert pay_rewards(paying, client_factory=fast_client).paid == 0
    flush_outbox(paying)
    assert len([n for n in note_bodies(handle, advocate) if "reward paid" in n]) == 1
