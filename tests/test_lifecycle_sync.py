"""A full sync notices contacts deleted or merged while no webhook arrived (sandbox, HTTP)."""

from __future__ import annotations

from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import ContactState, Referral
from connector.hubspot.gateway import Contact
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts
from connector.sync.vanished import SeenContacts, classify


def states(runtime: object) -> dict[str, ContactState]:
    with runtime.sessions() as session:  # type: ignore[attr-defined]
        return {s.contact_id: s for s in session.scalars(select(ContactState))}


def referrals(runtime: object) -> dict[str, Referral]:
    with runtime.sessions() as session:  # type: ignore[attr-defined]
        return {r.referred_contact_id: r for r in session.scalars(select(Referral))}


def test_full_sync_settles_deleted_and_merged_contacts(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()  # the sandbox sends no webhooks: only the sync can tell
    run_sync(runtime)
    invited = sorted((s for s in states(runtime).values() if s.referral_code),
                     key=lambda s: int(s.contact_id))
    assert len(invited) >= 2, "the seed has ready contacts: some must be invited"
    merged, survivor = invited[0], invited[1]
    assert merged.referral_code is not None
    kept = handle.portal.create_contact({"email": "kept.friend@friends.test",
                                         "referred_by_code": merged.referral_code})
    gone = handle.portal.create_contact({"email": "gone.friend@friends.test",
                                         "referred_by_code": merged.referral_code})
    rescore_contacts(runtime, [str(kept.id), str(gone.id)], reason="contact.creation")

    handle.portal.archive_contact(gone.id)
    handle.portal.merge(survivor.contact_id, merged.contact_id)
    summary = run_sync(runtime, full=True)
    assert summary.mode == "full"

    after = states(runtime)
    assert after[str(gone.id)].deleted_at is not None
    assert after[merged.contact_id].merged_into == survivor.contact_id
    assert after[survivor.contact_id].deleted_at is None
    by_friend = referrals(runtime)
    assert by_friend[str(gone.id)].status == "cancelled"
    assert by_friend[str(kept.id)].advocate_contact_id == survivor.contact_id
    # the survivor's counters reached HubSpot through the outbox the pass flushed
    on_record = handle.portal.get_contact(survivor.contact_id)
    assert on_record is not None and on_record.properties["referrals_made"] == "1"


def test_a_dry_run_settles_nothing(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    run_sync(runtime)
    some = next(iter(states(runtime)))
    handle.portal.archive_contact(some)
    run_sync(runtime, full=True, dry_run=True)
    assert states(runtime)[some].deleted_at is None
    run_sync(runtime, full=True)
    assert states(runtime)[some].deleted_at is not None


def test_classify_reads_survivors_from_merged_ids() -> None:
    survivor = Contact(id="9", properties={"hs_merged_object_ids": "3;4"})
    assert classify(["3", "5", "9"], [survivor]) == {"3": "9", "5": None}


def test_seen_contacts_answers_membership_in_any_order() -> None:
    seen = SeenContacts()
    seen.add([Contact(id="5", properties={}), Contact(id="2", properties={})])
    assert "2" in seen and "5" in seen and "3" not in seen and "erased-x" not in seen
