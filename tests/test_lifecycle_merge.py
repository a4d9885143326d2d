"""Merges and deletions: one person never earns twice, counters are recomputed and pushed."""

from __future__ import annotations

from datetime import timedelta

from fixtures_program import NOW, ProgramHarness

from connector.db.session import transaction
from connector.program import hooks
from connector.program.counters import counters_for, number_text
from connector.program.dates import hubspot_time
from connector.queue.outbox import enqueue


def remove(harness: ProgramHarness, contact_id: str, kind: str,
           merged_into: str | None = None) -> None:
    with transaction(harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, harness.runtime, contact_id, kind, merged_into,
                                 NOW + timedelta(days=3))


def convert(harness: ProgramHarness, friend: str, code: str) -> None:
    harness.process(friend, referred_by_code=code, lifecyclestage="customer",
                    hs_lifecyclestage_customer_date=hubspot_time(NOW),
                    now=NOW + timedelta(hours=1))


def pushed(harness: ProgramHarness, contact_id: str, key_part: str) -> dict[str, str]:
    [item] = [o for o in harness.outbox(contact_id) if key_part in o.idempotency_key]
    assert item.kind == "properties" and item.status == "pending"
    return dict(item.payload["properties"])


def test_both_records_referred_keeps_one_referral_and_rejects_the_other(
        program_harness: ProgramHarness) -> None:
    first, second = program_harness.invite("1"), program_harness.invite("3")
    program_harness.process("10", referred_by_code=first)
    program_harness.process("11", referred_by_code=second, now=NOW + timedelta(minutes=5))
    remove(program_harness, "11", "contact.merge", merged_into="10")
    kept, dropped = program_harness.referrals()
    assert (kept.referred_contact_id, kept.advocate_contact_id, kept.status) == \
        ("10", "1", "attributed")
    assert dropped.status == "cancelled"
    assert dropped.review_reason == "duplicate_contact: contact merged"
    [rejection] = program_harness.rejections()
    assert (rejection.reason, rejection.code, rejection.advocate_contact_id) == \
        ("duplicate_contact", second, "3")
    # the second advocate lost its referral: its counters go to HubSpot through the outbox
    assert pushed(program_harness, "3", "merge-duplicate")["referrals_made"] == "0"


def test_the_converted_record_is_kept_so_the_person_cannot_convert_twice(
        program_harness: ProgramHarness) -> None:
    first, second = program_harness.invite("1"), program_harness.invite("3")
    program_harness.process("10", referred_by_code=first)
    program_harness.process("11", referred_by_code=second)
    convert(program_harness, "11", second)
    rewarded = len(program_harness.ledger())
    assert rewarded == 2
    remove(program_harness, "11", "contact.merge", merged_into="10")
    by_friend = {r.referred_contact_id: r for r in program_harness.referrals()}
    assert (by_friend["10"].advocate_contact_id, by_friend["10"].status) == ("3", "converted")
    assert by_friend["11"].status == "cancelled"
    convert(program_harness, "10", first)  # the survivor converts again: no new reward
    assert len(program_harness.ledger()) == rewarded
    assert {r.contact_id for r in program_harness.ledger() if r.role == "friend"} == {"10"}


def test_a_merged_advocates_counters_are_recomputed_not_added(
        program_harness: ProgramHarness) -> None:
    old_code, own_code = program_harness.invite("1"), program_harness.invite("5")
    program_harness.process("10", referred_by_code=old_code)
    convert(program_harness, "10", old_code)
    program_harness.process("11", referred_by_code=own_code)
    remove(program_harness, "1", "contact.merge", merged_into="5")
    assert program_harness.state("5").referral_code == own_code
    props = pushed(program_harness, "5", "props:merge:5:1")
    with program_harness.runtime.sessions() as session:
        counters = counters_for(session, "5")
    assert (props["referrals_made"], props["referrals_converted"]) == ("2", "1")
    assert props["referral_rewards_earned"] == number_text(counters.earned)
    assert props["referral_code"] == own_code
    assert {r.contact_id for r in program_harness.ledger() if r.role == "advocate"} == {"5"}
    program_harness.process("12", referred_by_code=f"  {old_code.lower()} ")  # old code works
    assert {r.advocate_contact_id for r in program_harness.referrals()} == {"5"}


def test_a_merge_applied_twice_changes_nothing(program_harness: ProgramHarness) -> None:
    first, second = program_harness.invite("1"), program_harness.invite("3")
    program_harness.process("10", referred_by_code=first)
    program_harness.process("11", referred_by_code=second)
    remove(program_harness, "11", "contact.merge", merged_into="10")

    def snapshot() -> list[object]:
        return [[(r.referred_contact_id, r.status) for r in program_harness.referrals()],
                [r.reason for r in program_harness.rejections()],
                [o.idempotency_key for o in program_harness.outbox()]]

    before = snapshot()
    remove(program_harness, "11", "contact.merge", merged_into="10")
    assert snapshot() == before


def test_deleting_a_friend_drops_its_enrollments_and_pushes_the_advocates_counters(
        program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    with transaction(program_harness.runtime.sessions) as session:  # a reminder waiting
        enqueue(session, key="enroll:reminder:2:1", kind="enroll", contact_id="2",
                payload={"workflow_id": "1001", "email": "person2@example.com"})
    remove(program_harness, "2", "contact.deletion")
    assert {o.status for o in program_harness.outbox("2")} == {"dropped"}
    assert program_harness.state("2").journey_state == "paused"
    assert program_harness.referrals()[0].status == "cancelled"
    assert pushed(program_harness, "1", "removed-friend")["referrals_made"] == "0"
