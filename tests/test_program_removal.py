"""Deletions and merges: the journey stops, unpaid rewards are cancelled, merges move records."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fixtures_program import NOW, ProgramHarness

from connector.db.session import transaction
from connector.program import hooks
from connector.program.dates import hubspot_time


def remove(program_harness: ProgramHarness, contact_id: str, kind: str,
           merged_into: str | None = None) -> None:
    with transaction(program_harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, program_harness.runtime, contact_id, kind,
                                 merged_into, NOW + timedelta(days=3))


def convert(program_harness: ProgramHarness, friend: str, code: str) -> None:
    program_harness.process(friend, referred_by_code=code, lifecyclestage="customer",
                            hs_lifecyclestage_customer_date=hubspot_time(NOW),
                            now=NOW + timedelta(hours=1))


def test_deletion_cancels_unpaid_rewards_and_keeps_granted_ones(
        program_harness: ProgramHarness) -> None:
    program_harness.configure(approval_threshold=Decimal(30), hold_days=0)
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    convert(program_harness, "2", code)
    assert [r.status for r in program_harness.ledger()] == ["pending_approval", "payable"]
    remove(program_harness, "1", "contact.deletion")
    advocate, friend = program_harness.ledger()
    assert (advocate.status, advocate.reason) == ("cancelled", "contact deleted")
    assert friend.status == "payable"
    state = program_harness.state("1")
    assert state.deleted_at is not None and state.journey_state == "paused"
    assert {o.status for o in program_harness.outbox("1")} == {"dropped"}


def test_a_deleted_advocate_credits_no_new_referral(program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    code = program_harness.invite("1")
    remove(program_harness, "1", "contact.privacyDeletion")
    # erased: the state and its outbox items live on under a pseudonym, without the email
    assert program_harness.outbox("1") == []
    assert [o.payload for o in program_harness.outbox()] == [{"erased": True}]
    program_harness.process("2", referred_by_code=code)
    assert [r.reason for r in program_harness.rejections()] == ["advocate_removed"]


def test_deleting_a_friend_before_it_converts_cancels_its_referral(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    remove(program_harness, "2", "contact.deletion")
    assert program_harness.referrals()[0].status == "cancelled"
    assert program_harness.process("1", tier="ready")["referrals_made"] == "0"


def test_a_merge_moves_code_journey_and_referrals_to_the_survivor(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    remove(program_harness, "1", "contact.merge", merged_into="5")
    survivor = program_harness.state("5")
    assert survivor.referral_code == code and survivor.invited_at is not None
    assert program_harness.state("1").merged_into == "5"
    assert program_harness.referrals()[0].advocate_contact_id == "5"
    program_harness.process("3", referred_by_code=code)  # the code still works
    assert {r.advocate_contact_id for r in program_harness.referrals()} == {"5"}
    out = program_harness.process("5", tier="ready")
    assert out["referral_code"] == code and out["referrals_made"] == "2"


def test_a_friend_merged_into_its_advocate_is_a_self_referral(
        program_harness: ProgramHarness) -> None:
    program_harness.configure(approval_threshold=Decimal(30), hold_days=0)
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    convert(program_harness, "2", code)
    remove(program_harness, "2", "contact.merge", merged_into="1")
    [referral] = program_harness.referrals()
    assert referral.status == "cancelled"
    assert referral.review_reason == "self_referral: contact merged"
    statuses = sorted(r.status for r in program_harness.ledger())
    assert statuses == ["cancelled", "payable"]  # the payable friend reward stays
