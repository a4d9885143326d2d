"""Conversion on deals over real HTTP: the sandbox's deal webhooks go through the inbox and the
worker, which re-reads deals and their contacts and lets the program reward once per deal."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import datetime
from typing import Any

import pytest
import requests
from fixtures_sync import SyncSetup, install_properties
from sqlalchemy import select, update
from werkzeug.serving import make_server

from connector.db.models import ContactState, InboxEvent, Referral, RewardLedger
from connector.queue.inbox import ClaimedEvent, store_events
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.sync import deals as sync_deals
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.web.app import create_app
from connector.web.deliveries import parse_hubspot_events
from connector.worker.drain import drain_inbox
from connector.worker.plan import plan_batch


class DealWorld:
    """A sandbox portal whose webhooks are delivered to the connector's inbox on demand."""

    def __init__(self, handle: SandboxHandle, runtime: Runtime) -> None:
        self.handle, self.runtime = handle, runtime
        self.sent: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        handle.portal.event_sink = self.pending.append

    def convert_on_lifecycle_stage(self) -> None:
        """Switch the program to conversion on lifecycle stage (no deals read)."""
        self.runtime.__dict__["program"] = dataclasses.replace(
            self.runtime.program, conversion_mode="lifecycle_stage")

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

    def referred_friend(self, code: str, email: str, *, deliver: bool = True) -> str:
        """A friend signs up with the code; `deliver=False` leaves its creation webhook pending."""
        ids = self.control("/contacts", {"contacts": [{
            "email": email, "lifecyclestage": "lead", "referred_by_code": code}]})["ids"]
        if deliver:
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
    # the reward workflows wait for the rewards to reach people
    assert not advocate_record.get("referral_reward_trigger")
    assert not world.record(friend).get("referral_friend_reward_trigger")

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
    world.convert_on_lifecycle_stage()
    friend = world.referred_friend(code, "plain.friend@friends.test")
    world.deal("closedwon", [friend])
    world.deliver()
    assert world.rewards() == []


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
    world.move(deal, "closedwon")  # won again inside the window: converts again, once
    world.deliver()
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]
    with world.runtime.sessions() as session:
        assert len(session.scalars(select(RewardLedger)).all()) == 2  # the same two rows


def test_deal_events_collapse_per_deal() -> None:
    events = [ClaimedEvent(i, "hubspot", kind, object_id, {}, 1) for i, kind, object_id in [
        (1, "deal.creation", "900"), (2, "deal.propertyChange", "900"),
        (3, "deal.propertyChange", "901"), (4, "contact.creation", "5"),
        (5, "deal.propertyChange", None)]]
    plan = plan_batch(events)
    assert plan.deals == {"900": [1, 2], "901": [3]}
    assert plan.rescore == {"5": [4]}
    assert plan.ignored == [5]


def test_a_failed_deal_read_leaves_its_events_to_retry(sync_setup: SyncSetup,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    world, advocate, code = start(sync_setup)
    friend = world.referred_friend(code, "retry.friend@friends.test")
    world.deal("closedwon", [friend])

    def down(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("HubSpot is down")

    monkeypatch.setattr(sync_deals, "deal_contact_ids", down)
    store_events(world.runtime.engine,
                 parse_hubspot_events(json.dumps(world.pending).encode()))
    summary = drain_inbox(world.runtime)
    assert summary.retried == 1 and summary.handled == 0
    assert world.rewards() == []
    with world.runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(next_attempt_at=datetime(2000, 1, 1)))
    monkeypatch.undo()
    summary = drain_inbox(world.runtime)
    assert summary.handled == 1 and not summary.errors
    assert world.rewards() == [("advocate", advocate), ("friend", friend)]


@pytest.mark.slow
def test_signed_deal_webhooks_reach_the_program(make_sandbox: Any, settings: Any,
                                                sqlite_engine: Any) -> None:
    """Sandbox -> signed v3 delivery -> the web app's receiver -> inbox -> worker -> rewards."""
    web = Runtime(dataclasses.replace(settings, public_url=None), engine=sqlite_engine)
    server = make_server("127.0.0.1", 0, create_app(runtime=web), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        handle = make_sandbox(webhook_url=f"http://127.0.0.1:{server.server_port}"
                              "/webhooks/hubspot", client_secret=settings.hubspot_client_secret)
        install_properties(handle, settings)
        runtime = Runtime(dataclasses.replace(settings, hubspot_base_url=handle.url,
                                              hubspot_access_token="sandbox-token"),
                          engine=sqlite_engine)
        runtime.__dict__["program"] = dataclasses.replace(
            runtime.program, conversion_mode="deal_closed_won")
        run_sync(runtime)
        with runtime.sessions() as session:
            code = session.scalars(select(ContactState.referral_code).where(
                ContactState.referral_code.is_not(None))).first()
        friend = handle.portal.create_contact({"email": "signed@friends.test",
                                               "referred_by_code": code}, source="CRM_UI")
        deal = handle.portal.deals.create({"dealname": "D", "amount": "10",
                                           "dealstage": "contractsent"}, source="CRM_UI")
        handle.portal.deals.associate(deal.id, friend.id)
        handle.portal.deals.update(deal.id, {"dealstage": "closedwon"}, source="CRM_UI")
        deadline = time.monotonic() + 15
        while True:
            drain_inbox(runtime)
            with runtime.sessions() as session:
                won = session.scalar(select(Referral).where(
                    Referral.referred_contact_id == str(friend.id),
                    Referral.conversion_key == str(deal.id)))
            if won is not None:
                break
            assert time.monotonic() < deadline, "the deal webhooks never converted the friend"
            time.sleep(0.1)
        assert won.status == "converted"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_deal_undone_then_won_again_converts_once_with_counters_equal_to_the_ledger(
        sync_setup: SyncSetup) -> None:
    from connector.program.counters import counters_for, number_text

    world, advocate, code = start(sync_setup)
    friend = world.referred_friend(code, "redo.friend@friends.test")
    schema = world.runtime.property_schema

    def agree() -> None:
        """The advocate's counters in HubSpot say what the ledger says."""
        with world.runtime.sessions() as session:
            counters = counters_for(session, advocate)
        record = world.record(advocate)
        assert record[schema.name("referrals_converted")] == str(counters.converted)
        assert record[schema.name("referral_rewards_earned")] == number_text(counters.earned)

    deal = world.deal("closedwon", [friend])
    world.deliver()
    assert world.referral(friend).status == "converted"
    assert sorted(world.rewards()) == [("advocate", advocate), ("friend", friend)]
    agree()

    world.move(deal, "contractsent")  # a sales rep corrects the stage inside the hold
    world.deliver()
    assert world.referral(friend).status == "cancelled"
    assert world.rewards() == []
    agree()
    assert world.record(advocate)[schema.name("referrals_converted")] == "0"

    world.move(deal, "closedwon")  # and back: one conversion, one set of rewards, held anew
    world.deliver()
    assert world.referral(friend).status == "converted"
    assert sorted(world.rewards()) == [("advocate", advocate), ("friend", friend)]
    with world.runtime.sessions() as session:
        rows = session.scalars(select(RewardLedger)).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"held"}
    agree()
    assert world.record(advocate)[schema.name("referrals_converted")] == "1"

    world.deliver(world.sent[-2:])  # the same webhooks again change nothing
    with world.runtime.sessions() as session:
        assert len(session.scalars(select(RewardLedger)).all()) == 2
    agree()
