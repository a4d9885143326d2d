"""Conversion on deals over real HTTP: the sandbox's deal webhooks go through the inbox and the
worker, which re-reads deals and their contacts and lets the program reward once per deal."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import requests
from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.db.models import ContactState, Referral, RewardLedger
from connector.program.config import ProgramConfig
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.sync.outbox import flush_outbox
from connector.sync.passes import run_sync
from connector.web.inbox import parse_hubspot_events, store_events
from connector.worker.drain import drain_inbox


class DealWorld:
    """A sandbox portal whose webhooks are delivered to the connector's inbox on demand."""

    def __init__(self, handle: SandboxHandle, runtime: Runtime) -> None:
        self.handle, self.runtime = handle, runtime
        self.sent: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        handle.portal.event_sink = self.pending.append

    def deliver(self, events: list[dict[str, Any]] | None = None) -> None:
        """HubSpot's webhook delivery, the worker's drain and the outbox flush."""
        batch = self.pending if events is None else events
        store_events(self.runtime.engine, parse_hubspot_events(json.dumps(batch).encode()))
        self.sent.extend(batch)
        if events is None:
            self.pending = []
            self.handle.portal.event_sink = self.pending.append
        summary = drain_inbox(self.runtime)
        assert not summary.errors, summary.errors
        flush_outbox(self.runtime)

    def control(self, path: str, body: dict[str, Any]) -> Any:
        answer = requests.post(self.handle.url + "/_sandbox" + path, json=body, timeout=5)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def deal(self, stage: str, contacts: list[str], amount: str = "1500") -> str:
        """A deal created by a user, associated with contacts."""
        return str(self.control("/deals", {"deals": [{
            "properties": {"dealname": "Deal", "amount": amount, "dealstage": stage},
            "contacts": contacts}]})["ids"][0])

    def move(self, deal_id: str, stage: str) -> None:
        """A user drags the deal to another stage."""
        self.control(f"/deals/{deal_id}/properties", {"dealstage": stage})

    def referred_friend(self, code: str, email: str) -> str:
        ids = self.control("/contacts", {"contacts": [{
            "email": email, "lifecyclestage": "lead", "referred_by_code": code}]})["ids"]
        self.deliver()
        return str(ids[0])

    def rewards(self) -> list[tuple[str, str]]:
        with self.runtime.sessions() as session:
            return [(r.role, r.contact_id) for r in session.scalars(
                select(RewardLedger).where(RewardLedger.status != "cancelled")
                .order_by(RewardLedger.id))]

    def referral(self, contact_id: str) -> Referral:
        with self.runtime.sessions() as session:
            found = session.scalar(select(Referral).where(
                Referral.referred_contact_id == contact_id))
            assert found is not None
            return found

    def record(self, contact_id: str) -> dict[str, str]:
        return dict(self.handle.portal.get_contact(contact_id).properties)


def start(sync_setup: SyncSetup, **program: Any) -> tuple[DealWorld, str, str]:
    """Deal mode; one invited advocate (its id and code)."""
    handle, runtime = sync_setup()
    runtime.__dict__["program"] = dataclasses.replace(
        runtime.program, conversion_mode="deal_closed_won", **program)
    world = DealWorld(handle, runtime)
    run_sync(runtime)
    flush_outbox(runtime)
    world.pending.clear()  # the sync's own writes
    with runtime.sessions() as session:
        advocate = session.scalars(select(ContactState).where(
            ContactState.referral_code.is_not(None)).order_by(ContactState.contact_id)).first()
    assert advocate is not None and advocate.referral_code
    return world, advocate.contact_id, advocate.referral_code


def test_closed_won_deal_rewards_both_sides_once(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup)
    friend = world.referred_friend(code, "deal.friend@friends.test")
    assert world.referral(friend).status == "attributed"

    deal = world.deal("contractsent", [friend])
    world.deliver()
    assert world.rewards() == []

    world.move(deal, "closedwon")
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    referral = world.referral(friend)
    assert (referral.status, referral.conversion_key, str(referral.revenue)) == (
        "converted", deal, "1500.00")
    advocate_record = world.record(advocate)
    assert (advocate_record["referrals_made"], advocate_record["referrals_converted"]) == (
        "1", "1")
    assert advocate_record.get("referral_reward_trigger")
    assert world.record(friend).get("referral_friend_reward_trigger")

    # the same webhooks again (HubSpot retries) and the same change under new event ids
    world.deliver(list(world.sent))
    world.deliver([{**e, "eventId": e["eventId"] + 500_000} for e in world.sent[-2:]])
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]

    # a second deal of the same friend closes: the referral has converted already
    second = world.deal("closedwon", [friend], amount="9000")
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    assert world.referral(friend).conversion_key == deal
    assert second != deal


def test_deals_of_contacts_nobody_referred_reward_nothing(sync_setup: SyncSetup) -> None:
    world, advocate, _ = start(sync_setup)
    stranger = world.control("/contacts", {"contacts": [{"email": "nobody@else.test"}]})["ids"]
    world.deliver()
    world.deal("closedwon", [str(stranger[0]), advocate])
    world.deliver()
    world.deal("closedwon", [])
    world.deliver()
    assert world.rewards() == []
    with world.runtime.sessions() as session:
        assert session.scalars(select(Referral)).all() == []


def test_in_deal_mode_a_lifecycle_change_converts_nothing(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup)
    friend = world.referred_friend(code, "lifecycle.friend@friends.test")
    created = world.record(friend)["createdate"]
    requests.post(f"{world.handle.url}/_sandbox/contacts/{friend}/properties", timeout=5,
                  json={"lifecyclestage": "customer",
                        "hs_lifecyclestage_customer_date": created})
    world.deliver()
    assert world.rewards() == []
    assert world.referral(friend).status == "attributed"

    deal = world.deal("closedwon", [friend])
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    assert world.referral(friend).conversion_key == deal


def test_one_deal_converts_one_referral(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup)
    first = world.referred_friend(code, "first.friend@friends.test")
    second = world.referred_friend(code, "second.friend@friends.test")
    world.deal("closedwon", [second, first])
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", first)]
    assert world.referral(second).status == "attributed"


def test_lifecycle_mode_ignores_deals(sync_setup: SyncSetup) -> None:
    world, _, code = start(sync_setup)
    world.runtime.__dict__["program"] = dataclasses.replace(
        world.runtime.program, conversion_mode="lifecycle_stage")
    friend = world.referred_friend(code, "plain.friend@friends.test")
    world.deal("closedwon", [friend])
    world.deliver()
    assert world.rewards() == []


@pytest.mark.skipif("hold_days" not in {f.name for f in dataclasses.fields(ProgramConfig)},
                    reason="the program has no hold period yet")
def test_a_deal_reopened_during_the_hold_cancels_its_rewards(sync_setup: SyncSetup) -> None:
    world, advocate, code = start(sync_setup, hold_days=30)
    friend = world.referred_friend(code, "reopened.friend@friends.test")
    deal = world.deal("closedwon", [friend])
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    world.move(deal, "contractsent")
    world.deliver()
    assert world.rewards() == []
    with world.runtime.sessions() as session:
        reasons = {r.reason for r in session.scalars(select(RewardLedger))}
    assert reasons == {f"deal {deal} left closed won (contractsent)"}
    world.move(deal, "closedwon")  # won again: the deal has counted once already
    world.deliver()
    assert world.rewards() == []
