"""Conversion and rewards: window edges, double-sided rewards, caps, approval, idempotency."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from fixtures_program import NOW, ProgramHarness
from sqlalchemy import Engine, select

from connector.cli import cli
from connector.cli import rewards as commands
from connector.db.models import ContactState, OutboxItem
from connector.program import hooks
from connector.program.config import Reward
from connector.program.dates import hubspot_time
from connector.report.numbers import build_report
from connector.runtime import Runtime

CREATED = NOW - timedelta(days=1)


def refer(program_harness: ProgramHarness, friend: str = "2", advocate: str = "1") -> str:
    """Invite the advocate (once) and sign its friend up with the code."""
    state = None
    with program_harness.runtime.sessions() as session:
        state = session.get(ContactState, advocate)
    code = state.referral_code if state and state.referral_code else program_harness.invite(
        advocate)
    program_harness.process(friend, referred_by_code=code, created_at=CREATED)
    return code


def convert(program_harness: ProgramHarness, friend: str = "2", *,
            after: timedelta = timedelta(days=5), now=None) -> dict[str, str]:
    """The friend becomes a customer `after` its creation."""
    code = program_harness.referrals()[0].code
    return program_harness.process(
        friend, referred_by_code=code, created_at=CREATED, lifecyclestage="customer",
        hs_lifecyclestage_customer_date=hubspot_time(CREATED + after),
        now=now or CREATED + after + timedelta(minutes=5))


def ledger(program_harness: ProgramHarness) -> list[tuple[str, str, str, str]]:
    return [(r.role, r.contact_id, format(r.amount.normalize(), "f"), r.status)
            for r in program_harness.ledger()]


def test_conversion_grants_both_rewards_and_updates_the_advocate(
        program_harness: ProgramHarness) -> None:
    refer(program_harness)
    friend = convert(program_harness)
    assert ledger(program_harness) == [("advocate", "1", "50", "held"),
                                       ("friend", "2", "20", "held")]
    [referral] = program_harness.referrals()
    assert referral.status == "converted"
    assert friend["referral_rewards_earned"] == "20"
    # the reward workflows run when the rewards reach people, not while they are held
    assert "referral_friend_reward_trigger" not in friend
    advocate_items = {o.idempotency_key: o for o in program_harness.outbox("1")}
    reward_id, friend_reward_id = (r.id for r in program_harness.ledger())
    counters = advocate_items[f"props:reward_advocate:1:{reward_id}"].payload["properties"]
    assert counters["referrals_converted"] == "1"
    assert counters["referral_rewards_earned"] == "50"
    assert counters["referral_status"] == "active"
    assert "referral_reward_trigger" not in counters
    assert program_harness.state("1").journey_state == "active"
    paid_at = NOW + timedelta(days=40)
    program_harness.pay(reward_id, paid_at)
    program_harness.pay(friend_reward_id, paid_at)
    paid = {o.idempotency_key: o for o in program_harness.outbox("1")}
    on_payment = paid[f"props:reward_advocate:1:{reward_id}.paid"].payload["properties"]
    assert on_payment["referral_reward_trigger"] == hubspot_time(paid_at)
    assert on_payment["referral_rewards_paid"] == "50"
    assert on_payment["referral_rewards_earned"] == "50"  # paid stays earned
    friend_paid = {o.idempotency_key: o for o in program_harness.outbox("2")}
    on_friend = friend_paid[f"props:reward_friend:2:{friend_reward_id}.paid"].payload
    assert on_friend["properties"]["referral_friend_reward_trigger"] == hubspot_time(paid_at)
    # the friend's own write-back carries the same trigger value: no writer moves it back
    again = convert(program_harness, now=paid_at + timedelta(hours=1))
    assert again["referral_friend_reward_trigger"] == hubspot_time(paid_at)


def test_the_same_contact_processed_three_times_changes_nothing(
        program_harness: ProgramHarness) -> None:
    refer(program_harness)
    first = convert(program_harness)
    outbox = [(o.idempotency_key, o.payload) for o in program_harness.outbox()]
    rows = ledger(program_harness)
    for hours in (1, 2, 3):
        again = convert(program_harness, now=NOW + timedelta(days=5, hours=hours))
        assert again == first
    assert ledger(program_harness) == rows
    assert [(o.idempotency_key, o.payload) for o in program_harness.outbox()] == outbox
    advocate = program_harness.process("1", tier="ready", now=NOW + timedelta(days=6))
    assert (advocate["referrals_made"], advocate["referrals_converted"],
            advocate["referral_rewards_earned"]) == ("1", "1", "50")


@pytest.mark.parametrize(("after", "status", "rewards"), [
    (timedelta(days=90), "converted", 2),
    (timedelta(days=90, seconds=1), "expired", 0),
])
def test_the_window_edge(program_harness: ProgramHarness, after: timedelta, status: str,
                         rewards: int) -> None:
    refer(program_harness)
    convert(program_harness, after=after)
    [referral] = program_harness.referrals()
    assert referral.status == status
    assert len(program_harness.ledger()) == rewards
    if status == "expired":
        assert "outside the 90-day window" in (referral.review_reason or "")


def test_api_mode_enrolls_both_in_their_reward_workflows(
        program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    refer(program_harness)
    convert(program_harness)
    convert(program_harness)
    advocate_reward, friend_reward = program_harness.ledger()
    keys = {o.idempotency_key: o.payload for o in program_harness.outbox() if o.kind == "enroll"}
    assert not [k for k in keys if k.startswith("enroll:reward_")]  # held: not yet
    for reward in (advocate_reward, friend_reward):
        program_harness.pay(reward.id, NOW + timedelta(days=40))
    convert(program_harness)
    keys = {o.idempotency_key: o.payload for o in program_harness.outbox() if o.kind == "enroll"}
    assert keys[f"enroll:reward_advocate:1:{advocate_reward.id}.paid"]["workflow_id"] == "1003"
    assert keys[f"enroll:reward_friend:2:{friend_reward.id}.paid"] == {
        "workflow_id": "1004", "email": "person2@example.com"}
    friend_enrollments = [k for k in keys if k.startswith("enroll:") and k.split(":")[2] == "2"]
    assert friend_enrollments == [f"enroll:reward_friend:2:{friend_reward.id}.paid"]


def test_the_cap_blocks_the_advocate_reward_not_the_friend(
        program_harness: ProgramHarness) -> None:
    program_harness.configure(cap_max=1)
    code = refer(program_harness)
    convert(program_harness)
    program_harness.process("3", referred_by_code=code, created_at=CREATED)
    program_harness.process("3", referred_by_code=code, created_at=CREATED,
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date=hubspot_time(NOW))
    rows = program_harness.ledger()
    assert [(r.role, r.contact_id, r.status) for r in rows] == [
        ("advocate", "1", "held"), ("friend", "2", "held"),
        ("advocate", "1", "blocked"), ("friend", "3", "held")]
    assert rows[2].reason == "cap reached: 1 advocate rewards per quarter"
    advocate = program_harness.process("1", tier="ready")
    assert (advocate["referrals_converted"], advocate["referral_rewards_earned"]) == ("2", "50")


def test_the_cap_resets_with_the_calendar_period(program_harness: ProgramHarness) -> None:
    program_harness.configure(cap_max=1)
    code = refer(program_harness)
    convert(program_harness)
    april = NOW.replace(month=4, day=2)
    program_harness.process("3", referred_by_code=code, created_at=april, now=april)
    program_harness.process("3", referred_by_code=code, created_at=april, now=april,
                            lifecyclestage="customer",
                            hs_lifecyclestage_customer_date=hubspot_time(april))
    assert [r.status for r in program_harness.ledger()] == ["held"] * 4


def test_approval_threshold_and_the_cli(program_harness: ProgramHarness,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    program_harness.configure(approval_threshold=Decimal(100),
                              advocate_reward=Reward(Decimal(150), "USD", "big"))
    refer(program_harness)
    convert(program_harness)
    advocate_reward, friend_reward = program_harness.ledger()
    assert advocate_reward.status == "pending_approval"
    assert advocate_reward.reason == "150 USD is above the approval threshold of 100"
    assert friend_reward.status == "held"
    assert not [o for o in program_harness.outbox("1") if "reward" in o.idempotency_key]

    monkeypatch.setattr(commands, "build_runtime", lambda: program_harness.runtime)
    runner = CliRunner()
    listed = runner.invoke(cli, ["rewards", "list", "--status", "pending_approval", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.output)] == [advocate_reward.id]

    approved = runner.invoke(cli, ["rewards", "approve", str(advocate_reward.id)])
    assert approved.exit_code == 0, approved.output
    again = runner.invoke(cli, ["rewards", "approve", str(advocate_reward.id)])
    assert again.exit_code == 2
    assert "is payable, not waiting for a decision" in again.output
    [item] = [o for o in program_harness.outbox("1") if "reward" in o.idempotency_key]
    assert item.idempotency_key == f"props:reward_advocate:1:{advocate_reward.id}"
    assert item.payload["properties"]["referral_rewards_earned"] == "150"
    assert program_harness.ledger()[0].decided_by.startswith("cli:")


def test_reject_from_the_cli(program_harness: ProgramHarness,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    program_harness.configure(approval_threshold=Decimal(10))
    refer(program_harness)
    convert(program_harness)
    monkeypatch.setattr(commands, "build_runtime", lambda: program_harness.runtime)
    runner = CliRunner()
    reward_id = program_harness.ledger()[0].id
    result = runner.invoke(cli, ["rewards", "reject", str(reward_id), "--reason", "fraud"])
    assert result.exit_code == 0, result.output
    assert (program_harness.ledger()[0].status, program_harness.ledger()[0].reason) == (
        "rejected", "fraud")
    assert runner.invoke(cli, ["rewards", "approve", str(reward_id)]).exit_code == 2
    assert runner.invoke(cli, ["rewards", "approve", "9999"]).exit_code == 2
    table = runner.invoke(cli, ["rewards", "list"])
    assert "rejected" in table.output and "fraud" in table.output


def test_stats_count_the_program(program_harness: ProgramHarness) -> None:
    code = refer(program_harness)
    convert(program_harness)
    program_harness.process("9", referred_by_code="NOPE2345")
    program_harness.process("3", referred_by_code=code)
    with program_harness.runtime.sessions() as session:
        counts = build_report(session)
    assert counts["funnel"]["invited"] == 1 and counts["funnel"]["referred"] == 1
    assert counts["funnel"]["converted"] == 1  # advocates with a converted referral
    assert counts["referrals"]["made"] == 2 and counts["referrals"]["converted"] == 1
    assert counts["referrals"]["rejected"] == {"unknown_code": 1}
    assert counts["rewards_granted_by_state"]["held"]["count"] == 2
    assert counts["rewards_granted_by_state"]["held"]["value"] == {"USD": 70.0}


@pytest.mark.postgres
def test_two_workers_converting_at_once_grant_one_reward_per_role(
        pg_engine: Engine, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.config import Settings

    program_harness = ProgramHarness(Runtime(Settings(database_url=sqlite_url),
                                             engine=pg_engine))
    refer(program_harness)
    barrier = threading.Barrier(2, timeout=10)
    original = hooks.lock_referral

    def lock_together(session, contact_id):  # type: ignore[no-untyped-def]
        barrier.wait()  # both workers have read the open referral; now both try to convert
        return original(session, contact_id)

    monkeypatch.setattr(hooks, "lock_referral", lock_together)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            convert(program_harness)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ledger(program_harness) == [("advocate", "1", "50", "held"),
                                       ("friend", "2", "20", "held")]
    with program_harness.runtime.sessions() as session:
        outbox_rows = session.query(OutboxItem).filter(
            OutboxItem.contact_id == "1", OutboxItem.kind.in_(("properties", "enroll"))).count()
        notes = sorted(session.scalars(select(OutboxItem.idempotency_key).where(
            OutboxItem.kind == "note")))
    assert outbox_rows == 2  # friend signed up, reward: once each
    assert [k.rsplit(":", 1)[0] for k in notes] == [  # and one note each in the CRM
        "note:conversion", "note:referral", "note:reward", "note:reward"]
