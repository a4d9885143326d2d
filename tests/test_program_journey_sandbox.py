"""The whole journey over real HTTP against the sandbox: sync, invite, refer, convert, reward.

Property mode: every enrollment is a trigger property on the contact in the sandbox.
"""

from __future__ import annotations

from typing import Any

from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import ContactState, RewardLedger
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts


def props(handle: Any, contact_id: str | int) -> dict[str, str]:
    return dict(handle.portal.get_contact(contact_id).properties)


def ledger(runtime: Any) -> list[tuple[str, str, str]]:
    with runtime.sessions() as session:
        return [(r.role, r.contact_id, r.status)
                for r in session.scalars(select(RewardLedger).order_by(RewardLedger.id))]


def test_invite_refer_convert_reward_and_replay(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    run_sync(runtime)
    with runtime.sessions() as session:
        invited = session.scalars(select(ContactState).where(
            ContactState.referral_code.is_not(None)).order_by(ContactState.contact_id)).all()
    assert invited, "the seed has ready contacts: some must be invited"
    advocate = invited[0]
    code = advocate.referral_code
    assert code is not None
    on_record = props(handle, advocate.contact_id)
    assert on_record["referral_code"] == code
    assert on_record["referral_status"] == "invited"
    assert on_record["referral_link"] == f"{runtime.settings.public_url}/r/{code}"
    assert on_record["referral_invitation_trigger"] == on_record["referral_invited_at"]

    friend = handle.portal.create_contact({
        "email": "new.friend@friends.test", "firstname": "Friend", "lifecyclestage": "lead",
        "referred_by_code": f" {code.lower()} "})
    rescore_contacts(runtime, [str(friend.id)], reason="contact.creation")
    flush_outbox(runtime)
    on_record = props(handle, advocate.contact_id)
    assert on_record["referrals_made"] == "1"
    assert on_record["referral_status"] == "joined"
    assert on_record.get("referral_friend_signed_up_trigger")
    assert not props(handle, friend.id).get("referral_invitation_trigger")

    converted = props(handle, friend.id)["createdate"]
    handle.portal.update_contact(friend.id, {
        "lifecyclestage": "customer", "hs_lifecyclestage_customer_date": converted})
    rescore_contacts(runtime, [str(friend.id)], reason="contact.propertyChange")
    flush_outbox(runtime)
    assert ledger(runtime) == [("advocate", advocate.contact_id, "held"),
                               ("friend", str(friend.id), "held")]
    on_record = props(handle, advocate.contact_id)
    assert (on_record["referrals_made"], on_record["referrals_converted"],
            on_record["referral_rewards_earned"], on_record["referral_status"]) == (
        "1", "1", "50", "active")
    assert not on_record.get("referral_reward_trigger")  # held: the workflow waits
    friend_record = props(handle, friend.id)
    assert friend_record["referral_rewards_earned"] == "20"
    assert not friend_record.get("referral_friend_reward_trigger")

    advocate_before, friend_before = on_record, friend_record
    for _ in range(3):  # the same events again: webhook retries, overlapping syncs
        rescore_contacts(runtime, [str(friend.id), advocate.contact_id], reason="replay")
        run_sync(runtime, full=True)
        flush_outbox(runtime)
    assert ledger(runtime) == [("advocate", advocate.contact_id, "held"),
                               ("friend", str(friend.id), "held")]
    assert props(handle, advocate.contact_id) == advocate_before
    assert props(handle, friend.id) == friend_before
