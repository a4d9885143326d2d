"""Deal conversions caught up by the clock's program-due job over real HTTP: deals won before the
friend was attributed, associated after they were won, or whose webhook never came."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from fixtures_sync import SyncSetup
from sqlalchemy import Engine, update
from test_deals_conversion import DealWorld, start

from connector.db.models import Referral
from connector.sync import deals as sync_deals
from connector.sync.flush import flush_outbox
from connector.worker import due


def deal_calls(world: DealWorld) -> dict[str, int]:
    """The sandbox's answered requests on deal and association routes, by route."""
    stats = requests.get(world.handle.url + "/_sandbox/stats", timeout=5).json()
    return {route: n for route, n in stats["requests"].items()
            if "deals" in route or "associations" in route}


def catch_up(world: DealWorld) -> due.DueWork:
    """One run of the clock's program-due job, then the outbox flush that sends its writes."""
    work = due.run_due_work(world.runtime, datetime.now(UTC))
    flush_outbox(world.runtime)
    return work


def test_a_deal_won_before_the_friend_was_attributed_converts_on_the_next_run(
        sync_setup: SyncSetup, engine: Engine) -> None:
    # on both databases: the window's bound compares stored times
    world, advocate, code = start(functools.partial(sync_setup, engine=engine))
    friend = world.referred_friend(code, "early.deal@friends.test", deliver=False)
    deal = world.deal("closedwon", [friend], amount="2400")
    # the deal's webhooks reach the worker before the friend's creation: nobody to convert
    world.deliver([e for e in world.pending if e["subscriptionType"].startswith("deal.")])
    world.deliver()
    assert world.referral(friend).status == "attributed"
    assert world.rewards() == []

    work = catch_up(world)
    assert work.deals_converted == 1
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    referral = world.referral(friend)
    assert (referral.status, referral.conversion_key, str(referral.revenue)) == (
        "converted", deal, "2400.00")
    assert world.record(advocate)["referrals_converted"] == "1"
    assert world.record(friend)["referral_rewards_earned"] == "20"

    # the next hour: the deal has counted, nothing more is granted nor read
    before = deal_calls(world)
    assert catch_up(world).deals_converted == 0
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    assert deal_calls(world) == before  # no open referral left to look at


def test_a_friend_associated_after_the_deal_was_won_converts(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup)
    friend = world.referred_friend(code, "late.contact@friends.test")
    deal = world.deal("closedwon", [])
    world.deliver()
    # a user adds the friend to the won deal: no deal webhook says so
    world.control(f"/deals/{deal}/contacts/{friend}", {})
    world.deliver()
    assert world.rewards() == []

    assert catch_up(world).deals_converted == 1
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    assert world.referral(friend).conversion_key == deal
    assert catch_up(world).deals_converted == 0
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]


def test_a_missed_deal_webhook_is_caught_up_and_open_deals_wait(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup)
    won = world.referred_friend(code, "missed.webhook@friends.test")
    waiting = world.referred_friend(code, "still.open@friends.test")
    world.deal("contractsent", [waiting])
    deal = world.deal("closedwon", [won])
    world.pending.clear()  # HubSpot never delivered them

    assert catch_up(world).deals_converted == 1
    assert world.rewards() == [("advocate", advocate), ("friend", won)]
    assert world.referral(won).conversion_key == deal
    assert world.referral(waiting).status == "attributed"


def test_a_deal_closed_before_the_friend_existed_earns_nothing(sync_setup: SyncSetup) -> None:
    world, _, code = start(sync_setup)
    old = str(world.control("/deals", {"deals": [{"properties": {
        "dealname": "Old", "amount": "500", "dealstage": "closedwon",
        "closedate": "2020-01-01T00:00:00.000Z"}, "contacts": []}]})["ids"][0])
    friend = world.referred_friend(code, "old.customer@friends.test")
    world.control(f"/deals/{old}/contacts/{friend}", {})
    world.deliver()

    assert catch_up(world).deals_converted == 0
    assert world.rewards() == []
    assert world.referral(friend).status == "attributed"


def test_referrals_past_their_window_are_not_read(sync_setup: SyncSetup) -> None:
    world, _, code = start(sync_setup)
    friend = world.referred_friend(code, "past.window@friends.test")
    world.deal("closedwon", [friend])
    world.pending.clear()
    long_ago = datetime.now(UTC) - timedelta(days=world.runtime.program.window_days + 3)
    with world.runtime.engine.begin() as conn:
        conn.execute(update(Referral).values(referred_created_at=long_ago,
                                             attributed_at=long_ago))
    before = deal_calls(world)

    assert catch_up(world).deals_converted == 0
    assert deal_calls(world) == before
    assert world.rewards() == []


def test_one_run_reads_a_bounded_number_of_referrals_oldest_first(
        sync_setup: SyncSetup, caplog: pytest.LogCaptureFixture) -> None:
    world, advocate, code = start(sync_setup)
    first = world.referred_friend(code, "first.bounded@friends.test")
    second = world.referred_friend(code, "second.bounded@friends.test")
    world.deal("closedwon", [second])
    world.deal("closedwon", [first])
    world.pending.clear()

    with caplog.at_level(logging.INFO, logger="connector.sync.deals"):
        assert sync_deals.catch_up_deals(world.runtime, datetime.now(UTC), limit=1) == 1
    assert world.rewards() == [("advocate", advocate), ("friend", first)]
    assert "2 open referrals, 1 read this run" in caplog.text
    assert sync_deals.catch_up_deals(world.runtime, datetime.now(UTC), limit=1) == 1
    assert [role for role, _ in world.rewards()] == ["advocate", "friend"] * 2


def test_batches_of_contacts_stay_within_one_association_read(
        sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    world, advocate, code = start(sync_setup)
    friends = [world.referred_friend(code, f"batch{n}@friends.test") for n in range(3)]
    world.deal("closedwon", [friends[2]])
    world.pending.clear()
    monkeypatch.setattr(sync_deals, "CATCH_UP_BATCH", 2)
    before = deal_calls(world)

    assert catch_up(world).deals_converted == 1
    after = deal_calls(world)
    contacts_to_deals = "POST /crm/v4/associations/<from_type>/<to_type>/batch/read"
    # two batches of contacts -> deals, then the won deal's contacts: three association reads
    assert after[contacts_to_deals] - before.get(contacts_to_deals, 0) == 3
    assert world.rewards() == [("advocate", advocate), ("friend", friends[2])]


def test_lifecycle_mode_reads_no_deals(sync_setup: SyncSetup) -> None:
    world, _, code = start(sync_setup)
    world.convert_on_lifecycle_stage()
    friend = world.referred_friend(code, "lifecycle.catchup@friends.test")
    world.deal("closedwon", [friend])
    world.deliver()
    before: dict[str, Any] = deal_calls(world)

    assert catch_up(world).deals_converted == 0
    assert deal_calls(world) == before
    assert world.rewards() == []
