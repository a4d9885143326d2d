"""The hold period: granted rewards wait `held`, an undone conversion cancels them inside the
hold, and after it they become `payable`; fraud review; revenue recorded at conversion."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fixtures_program import NOW, ProgramHarness

from connector.db.models import Referral
from connector.db.session import transaction
from connector.program.dates import hubspot_time
from connector.program.rewards import cancel_unpaid_for_referral, release_held
from connector.report.numbers import build_report

CREATED = NOW - timedelta(days=1)
CONVERTED_AT = NOW + timedelta(hours=1)


def refer_and_convert(program_harness: ProgramHarness, friend: str = "2",
                      **friend_props: str) -> str:
    code = program_harness.invite("1")
    program_harness.process(friend, referred_by_code=code, created_at=CREATED, **friend_props)
    program_harness.process(friend, referred_by_code=code, created_at=CREATED,
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date=hubspot_time(NOW),
                            now=CONVERTED_AT, **friend_props)
    return code


def statuses(program_harness: ProgramHarness) -> list[tuple[str, str]]:
    return [(r.role, r.status) for r in program_harness.ledger()]


def release(program_harness: ProgramHarness, at: object) -> int:
    with transaction(program_harness.runtime.sessions) as session:
        return release_held(session, program_harness.program, at)  # type: ignore[arg-type]


def test_rewards_are_held_then_payable_at_the_edge_of_the_hold(
        program_harness: ProgramHarness) -> None:
    refer_and_convert(program_harness)
    assert statuses(program_harness) == [("advocate", "held"), ("friend", "held")]
    hold_ends = CONVERTED_AT + timedelta(days=program_harness.program.hold_days)
    assert release(program_harness, hold_ends - timedelta(seconds=1)) == 0
    assert statuses(program_harness) == [("advocate", "held"), ("friend", "held")]
    assert release(program_harness, hold_ends) == 2
    assert statuses(program_harness) == [("advocate", "payable"), ("friend", "payable")]
    assert release(program_harness, hold_ends + timedelta(days=1)) == 0


def test_held_and_payable_rewards_count_as_earned(program_harness: ProgramHarness) -> None:
    refer_and_convert(program_harness)
    assert program_harness.process("1", tier="ready",
                                   now=CONVERTED_AT)["referral_rewards_earned"] == "50"
    after_hold = CONVERTED_AT + timedelta(days=31)
    # the sync releases the rewards of the contacts on its page, then writes their counters
    assert program_harness.process("1", tier="ready",
                                   now=after_hold)["referral_rewards_earned"] == "50"
    assert statuses(program_harness) == [("advocate", "payable"), ("friend", "held")]


def test_a_stage_regression_inside_the_hold_cancels_the_rewards(
        program_harness: ProgramHarness) -> None:
    code = refer_and_convert(program_harness)
    for _ in range(2):  # the same facts again change nothing
        program_harness.process("2", referred_by_code=code, created_at=CREATED,
                                lifecyclestage="opportunity", now=NOW + timedelta(days=3))
    advocate, friend = program_harness.ledger()
    assert (advocate.status, advocate.reason) == (
        "cancelled", "lifecycle stage regressed to opportunity")
    assert friend.status == "cancelled"
    [referral] = program_harness.referrals()
    assert (referral.status, referral.review_reason) == (
        "cancelled", "lifecycle stage regressed to opportunity")
    counters = program_harness.process("1", tier="ready", now=NOW + timedelta(days=3))
    assert (counters["referrals_made"], counters["referrals_converted"],
            counters["referral_rewards_earned"]) == ("0", "0", "0")


def test_a_regression_after_the_hold_keeps_the_payable_rewards(
        program_harness: ProgramHarness) -> None:
    code = refer_and_convert(program_harness)
    later = CONVERTED_AT + timedelta(days=30, minutes=1)
    program_harness.process("2", referred_by_code=code, created_at=CREATED,
                            lifecyclestage="lead", now=later)
    assert statuses(program_harness) == [("advocate", "payable"), ("friend", "payable")]
    assert program_harness.referrals()[0].status == "converted"


def test_cancel_unpaid_for_referral_is_idempotent_and_spares_payable(
        program_harness: ProgramHarness) -> None:
    program_harness.configure(approval_threshold=Decimal(30))
    refer_and_convert(program_harness)
    assert statuses(program_harness) == [("advocate", "pending_approval"), ("friend", "held")]
    for expected in (2, 0):
        with transaction(program_harness.runtime.sessions) as session:
            referral = session.get(Referral, program_harness.referrals()[0].id)
            assert referral is not None
            assert cancel_unpaid_for_referral(session, referral, "friend deleted",
                                              NOW + timedelta(days=2)) == expected
    assert statuses(program_harness) == [("advocate", "cancelled"), ("friend", "cancelled")]
    assert {r.reason for r in program_harness.ledger()} == {"friend deleted"}


def test_hold_zero_makes_rewards_payable_at_once(program_harness: ProgramHarness) -> None:
    program_harness.configure(hold_days=0)
    refer_and_convert(program_harness)
    assert statuses(program_harness) == [("advocate", "payable"), ("friend", "payable")]


def test_a_referral_in_review_grants_the_friend_and_holds_the_advocate_for_approval(
        program_harness: ProgramHarness) -> None:
    refer_and_convert(program_harness, email="friend@mailinator.com")
    advocate, friend = program_harness.ledger()
    assert (advocate.status, advocate.reason) == (
        "pending_approval", "disposable email domain mailinator.com")
    assert friend.status == "held"
    assert program_harness.referrals()[0].status == "converted"


def test_revenue_is_recorded_at_conversion_and_reported(
        program_harness: ProgramHarness) -> None:
    refer_and_convert(program_harness, total_revenue="1234.50")
    [referral] = program_harness.referrals()
    assert referral.revenue == Decimal("1234.50")
    with program_harness.runtime.sessions() as session:
        report = build_report(session, now=NOW + timedelta(days=1))
    assert report["revenue"]["referral_sourced"] == 1234.5


def test_a_missing_revenue_is_left_empty(program_harness: ProgramHarness) -> None:
    refer_and_convert(program_harness, total_revenue="")
    assert program_harness.referrals()[0].revenue is None


def test_a_ready_friend_gets_only_the_friend_reward_workflow(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    signed_up = program_harness.process("2", tier="ready", referred_by_code=code,
                                        created_at=CREATED)
    assert signed_up == {}  # not invited while its referral is open
    converted = program_harness.process(
        "2", tier="ready", referred_by_code=code, created_at=CREATED, lifecyclestage="customer",
        hs_lifecyclestage_customer_date=hubspot_time(NOW), now=CONVERTED_AT)
    assert not {k for k in converted if k.endswith("_trigger")}  # its reward is held
    assert "referral_code" not in converted
    assert program_harness.state("2").invited_at is None
    [friend_reward] = [r for r in program_harness.ledger() if r.role == "friend"]
    program_harness.pay(friend_reward.id, CONVERTED_AT + timedelta(days=31))
    paid = program_harness.process(
        "2", tier="ready", referred_by_code=code, created_at=CREATED, lifecyclestage="customer",
        hs_lifecyclestage_customer_date=hubspot_time(NOW),
        now=CONVERTED_AT + timedelta(days=31, hours=1))
    triggers = {k for k in paid if k.endswith("_trigger")}
    assert triggers == {"referral_friend_reward_trigger"}  # only the friend reward workflow
    assert "referral_code" not in paid
    cooldown = timedelta(days=program_harness.program.cooldown_days)
    later = program_harness.process("2", tier="ready", referred_by_code=code, created_at=CREATED,
                                    lifecyclestage="customer", now=CONVERTED_AT + cooldown)
    assert "referral_invitation_trigger" in later  # a customer now, like any other
