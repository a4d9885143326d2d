"""Rewards that reach people: payable rewards paid through the emulated Tremendous over HTTP,
each exactly once whatever the provider and the process live through; paid by hand with the
CLI for roles paid `manual`."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from fixtures_payouts import (
    fast_client,
    payable_rewards,
    paying_runtime,
    provider_faults,
    provider_orders,
)
from fixtures_sync import SyncSetup
from sqlalchemy import Engine, select

from connector.cli import cli
from connector.cli import rewards as rewards_command
from connector.db.models import OutboxItem, RewardLedger
from connector.errors import UserError
from connector.runtime import Runtime
from connector.sync.flush import flush_outbox
from connector.worker import loop
from connector.worker.payouts import pay_rewards


def ledger(runtime: Runtime) -> dict[int, RewardLedger]:
    with runtime.sessions() as session:
        return {r.id: r for r in session.scalars(select(RewardLedger))}


def pay(runtime: Runtime, now: datetime | None = None) -> Any:
    return pay_rewards(runtime, now=now, client_factory=fast_client)


def test_payable_rewards_are_paid_once_each(sync_setup: SyncSetup) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    ids = payable_rewards(runtime, handle, 5)
    assert pay(runtime).paid == 5
    rows = ledger(runtime)
    orders = {o["external_id"]: o for o in provider_orders(handle)}
    assert len(orders) == 5
    for reward_id in ids:
        row = rows[reward_id]
        assert row.status == "paid" and row.paid_at is not None
        order = orders[row.payout_key]
        assert row.payout_key == f"advocate-connector-reward-{reward_id}"  # from the row
        assert row.payout_reference == order["id"]
        assert order["rewards"][0]["value"]["denomination"] == Decimal("50")
        email = handle.portal.get_contact(row.contact_id).properties["email"]
        assert order["rewards"][0]["recipient"]["email"] == email
    assert pay(runtime).paid == 0  # nothing is paid twice
    assert len(provider_orders(handle)) == 5
    with runtime.sessions() as session:  # the contacts hear of it in the usual batch writes
        items = session.scalars(select(OutboxItem).where(
            OutboxItem.idempotency_key.like("props:reward_advocate:%.paid"))).all()
    assert {i.payload["properties"]["referral_rewards_paid"] for i in items} == {"50"}
    assert all(i.payload["properties"]["referral_reward_trigger"] for i in items)
    assert len(items) == 5
    flush_outbox(runtime)  # the advocate's record in HubSpot: paid, and its workflow's trigger
    record = handle.portal.get_contact(rows[ids[0]].contact_id).properties
    assert record["referral_rewards_paid"] == "50" and record["referral_reward_trigger"]


def test_timeouts_after_accepting_and_5xx_never_double(sync_setup: SyncSetup) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    ids = payable_rewards(runtime, handle, 6)
    # the provider takes two orders and answers too late, then fails the next calls with 503
    provider_faults(handle, timeout_after_accept=2, timeout_delay_s=3.0, fail_next=4,
                    error_status=503)
    now = datetime.now(UTC)
    for _ in range(8):
        pay(runtime, now=now)
        now += timedelta(hours=7)  # past any backoff and lease
        if all(r.status == "paid" for r in ledger(runtime).values()):
            break
    rows = ledger(runtime)
    assert {rows[i].status for i in ids} == {"paid"}
    orders = provider_orders(handle)
    assert len(orders) == 6
    assert sorted(o["external_id"] for o in orders) == sorted(rows[i].payout_key for i in ids)
    assert {rows[i].payout_reference for i in ids} == {o["id"] for o in orders}


def test_a_refused_recipient_ends_failed_with_the_reason(
    sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch,
) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    [reward_id] = payable_rewards(runtime, handle, 1)
    contact = ledger(runtime)[reward_id].contact_id
    handle.portal.update_contact(contact, {"email": ""}, source="CRM_UI")
    summary = pay(runtime)
    assert summary.paid == 0 and summary.failed == 1
    row = ledger(runtime)[reward_id]
    assert row.status == "failed" and row.payout_next_at is None  # left for a person
    assert "no email address" in (row.payout_error or "")
    assert provider_orders(handle) == []
    assert pay(runtime, now=datetime.now(UTC) + timedelta(days=2)).failed == 0  # not retried
    monkeypatch.setattr(rewards_command, "build_runtime", lambda: runtime)
    listed = CliRunner().invoke(cli, ["rewards", "list", "--status", "failed", "--json"])
    assert listed.exit_code == 0, listed.output
    [shown] = json.loads(listed.output)
    assert shown["id"] == reward_id and "no email address" in shown["reason"]


def test_without_the_key_rewards_wait_and_the_worker_says_so_once(
    sync_setup: SyncSetup, caplog: pytest.LogCaptureFixture,
) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    runtime.settings = dataclass_replace(runtime.settings, tremendous_api_key=None)
    [reward_id] = payable_rewards(runtime, handle, 1)
    with pytest.raises(UserError, match="TREMENDOUS_API_KEY is not set"):
        pay_rewards(runtime)
    row = ledger(runtime)[reward_id]
    assert (row.status, row.payout_attempts) == ("payable", 0)
    with caplog.at_level(logging.WARNING, logger="connector.worker.loop"):
        assert loop.pay_due_rewards(runtime) == 0
        assert loop.pay_due_rewards(runtime) == 0
    assert sum("TREMENDOUS_API_KEY" in r.getMessage() for r in caplog.records) == 1
    assert "\n" not in caplog.records[0].getMessage()


def dataclass_replace(settings: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(settings, **changes)


def test_the_daily_limit_holds_rewards_above_it_for_approval(sync_setup: SyncSetup) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base, payout_daily_limit=Decimal(100))
    ids = payable_rewards(runtime, handle, 5)
    assert pay(runtime).paid == 2
    rows = ledger(runtime)
    waiting = [rows[i] for i in ids if rows[i].status == "pending_approval"]
    assert len(waiting) == 3
    assert all("daily payout limit of 100 USD" in (r.reason or "") for r in waiting)
    assert len(provider_orders(handle)) == 2


def test_rewards_paid_by_hand(sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    friend_ids = payable_rewards(runtime, handle, 2, amount="20", role="friend")
    monkeypatch.setattr(rewards_command, "build_runtime", lambda: runtime)
    listed = CliRunner().invoke(cli, ["rewards", "payable", "--csv"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith("id,role,contact_id,amount,unit")
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in friend_ids]
    paid = CliRunner().invoke(cli, ["rewards", "paid", str(friend_ids[0]), "--reference",
                                    "INV-7"])
    assert paid.exit_code == 0 and f"reward {friend_ids[0]} paid" in paid.output
    row = ledger(runtime)[friend_ids[0]]
    assert (row.status, row.payout_reference) == ("paid", "INV-7")
    assert row.decided_by and row.decided_by.startswith("cli:")
    again = CliRunner().invoke(cli, ["rewards", "paid", str(friend_ids[0])])
    assert again.exit_code == 2
    assert again.output.strip().splitlines()[-1].startswith("error: not waiting to be paid")
    assert pay(runtime).paid == 0  # the job never pays a role paid by hand
    assert provider_orders(handle) == []


@pytest.mark.postgres
def test_two_payout_workers_racing_pay_each_reward_once(
    sync_setup: SyncSetup, pg_engine: Engine, pg_database_url: str,
) -> None:
    from connector.db.session import make_engine

    handle, base = sync_setup(engine=pg_engine, contacts=220)
    runtime = paying_runtime(handle, base, engine=pg_engine, payout_daily_limit=None)
    ids = payable_rewards(runtime, handle, 200)
    engines = [make_engine(pg_database_url) for _ in range(2)]
    workers = [paying_runtime(handle, base, engine=e, payout_daily_limit=None)
               for e in engines]
    paid: list[int] = []

    def work(worker: Runtime) -> None:
        while True:
            summary = pay_rewards(worker, limit=10, client_factory=fast_client)
            paid.append(summary.paid)
            if not summary.paid and not summary.failed:
                return

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for engine in engines:
        engine.dispose()
    rows = ledger(runtime)
    assert {rows[i].status for i in ids} == {"paid"}
    assert sum(paid) == 200
    orders = provider_orders(handle)
    assert len(orders) == 200
    assert len({o["external_id"] for o in orders}) == 200


PAYER = """
import sys
from datetime import UTC, datetime, timedelta
from connector.config import Settings
from connector.payouts.tremendous import RetryPolicy, TremendousClient
from connector.runtime import Runtime
from connector.sync.flush import flush_outbox
from connector.worker.payouts import pay_rewards

def client(runtime):
    s = runtime.settings
    return TremendousClient(s.tremendous_api_key, base_url=s.tremendous_base_url,
                            campaign_id=runtime.program.tremendous_campaign_id,
                            timeout=(2.0, 2.0),
                            retry=RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.02))

runtime = Runtime(Settings.from_env())
# each run lives later than the one before: leases of a killed run are over
now = datetime.now(UTC) + timedelta(minutes=5 * int(sys.argv[1]))
while pay_rewards(runtime, now=now, limit=3, client_factory=client).paid:
    pass
"""


@pytest.mark.slow
def test_a_payout_process_killed_anywhere_pays_each_reward_once(
    sync_setup: SyncSetup, sqlite_url: str, tmp_path: Any,
) -> None:
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    import requests

    from connector.sandbox.payouts import SANDBOX_API_KEY

    handle, base = sync_setup(contacts=50)
    runtime = paying_runtime(handle, base, payout_daily_limit=None)
    ids = payable_rewards(runtime, handle, 40)
    program = tmp_path / "program.yaml"  # the default program without the daily limit
    program.write_text(open(runtime.settings.program_path).read().replace(
        "daily_limit: 1000", "daily_limit: null"))
    env = dict(os.environ, DATABASE_URL=sqlite_url, HUBSPOT_BASE_URL=handle.url,
               HUBSPOT_ACCESS_TOKEN="sandbox-token", TREMENDOUS_API_KEY=SANDBOX_API_KEY,
               TREMENDOUS_BASE_URL=f"{handle.url}/api/v2", CONNECTOR_PROGRAM=str(program),
               LOG_FORMAT="text")
    provider_faults(handle, answer_delay_s=0.1)  # each order answered 100 ms after it exists
    rng = random.Random(11)
    kills = 0
    for run in range(1, 60):
        child = subprocess.Popen([sys.executable, "-c", PAYER, str(run)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if run < 40:  # SIGKILL at a random point of its work; the last runs finish
            time.sleep(rng.uniform(0.5, 1.5))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
        child.wait(timeout=120)
        if all(r.status == "paid" for r in ledger(runtime).values()):
            break
    assert kills >= 5, "the test killed too few payout processes to mean anything"
    # some kills fell between the provider's answer and the commit: the next run asked again
    # with the same key and the provider answered with the order it had
    stats = requests.get(f"{handle.url}/_sandbox/payouts/stats", timeout=5).json()
    replays = stats.get("orders_replayed", 0)
    assert replays >= 1
    rows = ledger(runtime)
    assert {rows[i].status for i in ids} == {"paid"}
    orders = provider_orders(handle)
    assert len(orders) == len(ids)  # exactly one order per payable reward
    assert {o["external_id"] for o in orders} == {rows[i].payout_key for i in ids}
    assert {o["id"] for o in orders} == {rows[i].payout_reference for i in ids}


def test_a_rejected_key_leaves_the_rewards_waiting_untouched(sync_setup: SyncSetup) -> None:
    handle, base = sync_setup(contacts=12)
    runtime = paying_runtime(handle, base)
    runtime.settings = dataclass_replace(runtime.settings, tremendous_api_key="TEST_wrong-key")
    ids = payable_rewards(runtime, handle, 3)
    with pytest.raises(UserError) as refused:
        pay(runtime)
    assert "rejected the API key" in str(refused.value) and "\n" not in str(refused.value)
    assert "TEST_wrong-key" not in str(refused.value)
    rows = ledger(runtime)
    assert [(rows[i].status, rows[i].payout_attempts) for i in ids] == [("payable", 0)] * 3
    assert provider_orders(handle) == []
