"""Attribution: case/space-insensitive codes, first valid claim wins, each rejection reason."""

from __future__ import annotations

from datetime import timedelta

from fixtures_program import NOW, ProgramHarness


def test_a_friend_with_a_code_is_attributed_case_and_space_insensitively(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    friend = program_harness.process("2", referred_by_code=f"  {code.lower()} ")
    assert friend == {}  # the friend is never enrolled in marketing workflows
    [referral] = program_harness.referrals()
    assert (referral.advocate_contact_id, referral.referred_contact_id, referral.code,
            referral.status) == ("1", "2", code, "attributed")
    [item] = program_harness.outbox("1")
    assert item.kind == "properties"
    assert item.idempotency_key == f"props:friend_signed_up:1:{referral.id}"
    assert item.payload == {"properties": {
        "referrals_made": "1", "referrals_converted": "0", "referral_rewards_earned": "0",
        "referral_status": "joined",
        "referral_friend_signed_up_trigger": "2025-03-10T12:00:00.000Z"}}
    assert program_harness.state("1").journey_state == "joined"
    assert program_harness.process("1", tier="ready")["referrals_made"] == "1"


def test_counters_are_recomputed_not_incremented(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    for _ in range(3):
        program_harness.process("2", referred_by_code=code)
    program_harness.process("3", referred_by_code=code)
    assert len(program_harness.referrals()) == 2
    payloads = [o.payload["properties"]["referrals_made"] for o in program_harness.outbox("1")]
    assert payloads == ["1", "2"]


def test_api_mode_enrolls_the_advocate_in_friend_signed_up(
        program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    program_harness.process("2", referred_by_code=code)
    referral_id = program_harness.referrals()[0].id
    items = {o.idempotency_key: o for o in program_harness.outbox("1")}
    enroll = items[f"enroll:friend_signed_up:1:{referral_id}"]
    assert enroll.payload == {"workflow_id": "1002", "email": "person1@example.com"}
    counters = items[f"props:friend_signed_up:1:{referral_id}"].payload["properties"]
    assert counters["referrals_made"] == "1"
    assert "referral_friend_signed_up_trigger" not in counters
    assert len(items) == 3  # invitation, friend-signed-up enrollment, counters


def test_the_friend_is_not_invited_while_its_referral_is_open(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    assert program_harness.process("2", tier="champion", referred_by_code=code) == {}


def rejected(program_harness: ProgramHarness) -> list[tuple[str, str]]:
    return [(r.referred_contact_id, r.reason) for r in program_harness.rejections()]


def test_unknown_code(program_harness: ProgramHarness) -> None:
    program_harness.process("2", referred_by_code="ZZZZZZZZ")
    program_harness.process("2", referred_by_code="ZZZZZZZZ")
    assert rejected(program_harness) == [("2", "unknown_code")]
    assert program_harness.referrals() == []


def test_self_referral_by_contact_and_by_email(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("1", tier="ready", referred_by_code=code)
    program_harness.process("2", referred_by_code=code, email="Person1@Example.com")
    assert rejected(program_harness) == [("1", "self_referral"), ("2", "self_referral")]
    assert program_harness.referrals() == []


def test_a_contact_that_was_already_a_customer(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    created = NOW - timedelta(days=2)
    # imported as a customer: the customer date is its creation date
    program_harness.process("2", referred_by_code=code, created_at=created,
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date="2025-03-08T12:00:00.000Z")
    # a customer for years who now fills in a form with a code
    program_harness.process("3", referred_by_code=code, created_at=NOW - timedelta(days=900),
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date="2023-01-01T00:00:00.000Z")
    assert rejected(program_harness) == [("2", "already_customer"), ("3", "already_customer")]


def test_a_friend_that_converted_before_the_connector_saw_it_still_counts(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code, created_at=NOW - timedelta(days=3),
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date="2025-03-09T12:00:00.000Z")
    assert rejected(program_harness) == []
    assert program_harness.referrals()[0].status == "converted"


def test_a_second_claim_on_a_referred_contact_credits_nothing(
        program_harness: ProgramHarness) -> None:
    first, second = program_harness.invite("1"), program_harness.invite("3")
    program_harness.process("2", referred_by_code=first)
    program_harness.process("2", referred_by_code=second)
    program_harness.process("2", referred_by_code=second)
    [referral] = program_harness.referrals()
    assert referral.advocate_contact_id == "1"
    assert rejected(program_harness) == [("2", "already_referred")]
    assert program_harness.outbox("3") == []


def test_a_disposable_email_is_flagged_for_review_not_rejected(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code, email="x@mailinator.com")
    assert rejected(program_harness) == []
    [referral] = program_harness.referrals()
    assert (referral.status, referral.review_reason) == (
        "review", "disposable email domain mailinator.com")


def test_same_domain_review_reject_or_allow(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")  # person1@example.com
    program_harness.configure(same_domain="reject")
    program_harness.process("3", referred_by_code=code, email="colleague@example.com")
    program_harness.process("4", referred_by_code=code, email="friend@other.test")
    assert rejected(program_harness) == [("3", "same_domain")]
    program_harness.configure(same_domain="review")
    program_harness.process("5", referred_by_code=code, email="boss@example.com")
    program_harness.process("6", referred_by_code=code, email="pal@gmail.com")
    program_harness.configure(same_domain="allow")
    program_harness.process("7", referred_by_code=code, email="peer@example.com")
    statuses = {r.referred_contact_id: (r.status, r.review_reason)
                for r in program_harness.referrals()}
    assert statuses == {"4": ("attributed", None),
                        "5": ("review", "friend on the advocate's company domain"),
                        "6": ("attributed", None), "7": ("attributed", None)}


def test_velocity_flags_referrals_beyond_the_daily_limit(
        program_harness: ProgramHarness) -> None:
    program_harness.configure(max_referrals_per_day=2)
    code = program_harness.invite("1")
    for friend in ("2", "3", "4"):
        program_harness.process(friend, referred_by_code=code, email=f"f{friend}@other.test")
    # a day later the advocate's count starts again
    program_harness.process("5", referred_by_code=code, email="f5@other.test",
                            now=NOW + timedelta(days=1, seconds=1))
    statuses = {r.referred_contact_id: (r.status, r.review_reason)
                for r in program_harness.referrals()}
    assert statuses == {
        "2": ("attributed", None), "3": ("attributed", None),
        "4": ("review", "velocity: more than 2 referrals from one advocate in a day"),
        "5": ("attributed", None)}
    assert rejected(program_harness) == []


def test_an_advocate_that_opted_out_gets_counters_but_no_workflow(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("1", tier="ready", hs_email_optout="true")
    program_harness.process("2", referred_by_code=code)
    [item] = program_harness.outbox("1")
    assert item.idempotency_key.startswith("props:referral:1:")
    assert "referral_friend_signed_up_trigger" not in item.payload["properties"]
    assert item.payload["properties"]["referral_status"] == "opted_out"
