"""Merges, deletions and privacy deletions end to end, over real HTTP with signed webhooks.

The sandbox (HubSpot) sends its `contact.merge` / `contact.deletion` /
`contact.privacyDeletion` webhooks to the connector's web app on a real port; the worker's
drain handles what the inbox stored and the outbox writes the counters back to the sandbox.
Nothing here calls the program's removal hook directly.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from fixtures_sync import install_properties
from sqlalchemy import Engine, MetaData, select
from werkzeug.serving import make_server

from connector.config import Settings
from connector.db.models import ContactState, ErasureLog, InboxEvent, Referral, RewardLedger
from connector.db.session import transaction
from connector.program.counters import EARNED, number_text
from connector.program.rewards import release_held
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.web.app import create_app
from connector.worker.drain import drain_inbox

TOKEN = "sandbox-token"
SECRET = "test-secret"


class Connected:
    """The sandbox and the connector (web app, inbox, worker drain) wired together."""

    def __init__(self, handle: SandboxHandle, runtime: Runtime) -> None:
        self.handle = handle
        self.runtime = runtime

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the sandbox as HubSpot's API or its UI (control API) would be called."""
        response = requests.request(method, self.handle.url + path, json=body, timeout=10,
                                    headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create(self, **properties: str) -> str:
        """A contact created in HubSpot's UI (a `contact.creation` webhook follows)."""
        [new_id] = self.api("POST", "/_sandbox/contacts", {"contacts": [properties]})["ids"]
        return str(new_id)

    def edit(self, contact_id: str, **properties: str) -> None:
        """A user's edit in HubSpot's UI (`contact.propertyChange` webhooks follow)."""
        self.api("POST", f"/_sandbox/contacts/{contact_id}/properties", properties)

    def props(self, contact_id: str) -> dict[str, str]:
        """The contact's properties in the sandbox, as HubSpot holds them."""
        found = self.handle.portal.get_contact(contact_id)
        assert found is not None, contact_id
        return dict(found.properties)

    def settle(self, timeout_s: float = 15.0) -> None:
        """Wait for every webhook to be delivered, drain the inbox and flush the outbox, until
        nothing more happens; no event may fail."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self.handle.stats()["webhooks"]["pending"]:
                assert time.monotonic() < deadline, "webhooks were not delivered"
                time.sleep(0.02)
            drained = drain_inbox(self.runtime)
            assert not drained.errors, drained.errors
            flushed = flush_outbox(self.runtime)
            if not drained.handled and not flushed and not self.handle.stats()[
                    "webhooks"]["pending"]:
                break
            assert time.monotonic() < deadline, "the connector never settled"
        with self.runtime.sessions() as session:
            assert not session.scalars(select(InboxEvent).where(
                InboxEvent.status != "done")).all(), "an event was not handled"

    def state(self, contact_id: str) -> ContactState:
        with self.runtime.sessions() as session:
            found = session.get(ContactState, contact_id)
            assert found is not None, contact_id
            return found

    def ledger(self) -> list[RewardLedger]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(RewardLedger).order_by(RewardLedger.id)))

    def referrals(self) -> list[Referral]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(Referral).order_by(Referral.id)))

    def invited(self) -> list[str]:
        """The contacts the first sync invited (they hold a code), in id order."""
        with self.runtime.sessions() as session:
            return sorted((s.contact_id for s in session.scalars(select(ContactState).where(
                ContactState.referral_code.is_not(None)))), key=int)

    def refer_and_convert(self, code: str, name: str) -> str:
        """A friend signs up with the code in HubSpot, then becomes a customer."""
        friend = self.create(email=f"{name.lower()}@friends.test", firstname=name,
                             lastname="Friendly", lifecyclestage="lead", referred_by_code=code)
        self.settle()
        self.edit(friend, lifecyclestage="customer",
                  hs_lifecyclestage_customer_date=self.props(friend)["createdate"])
        self.settle()
        return friend


Connect = Callable[[Engine], Connected]


@pytest.fixture
def connect(make_sandbox: Callable[..., SandboxHandle], settings: Settings) -> Iterator[Connect]:
    """connect(engine) -> a sandbox whose webhooks reach the connector's web app on `engine`,
    after a first sync (so the ready contacts are invited)."""
    servers: list[tuple[Any, threading.Thread]] = []

    def make(engine: Engine) -> Connected:
        web = Runtime(dataclasses.replace(settings, public_url=None), engine=engine)
        server = make_server("127.0.0.1", 0, create_app(runtime=web), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        handle = make_sandbox(contacts=30, client_secret=SECRET,
                              webhook_url=f"http://127.0.0.1:{server.server_port}"
                                          "/webhooks/hubspot")
        install_properties(handle, settings)
        runtime = Runtime(dataclasses.replace(settings, hubspot_base_url=handle.url,
                                              hubspot_access_token=TOKEN), engine=engine)
        portal = Connected(handle, runtime)
        run_sync(runtime)
        flush_outbox(runtime)
        portal.settle()
        assert portal.invited(), "the seed has ready contacts: some must be invited"
        return portal

    yield make
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)


def earned(portal: Connected, contact_id: str) -> Decimal:
    """What the ledger says the contact earned (the counter HubSpot should show)."""
    return sum((r.amount for r in portal.ledger()
                if r.contact_id == contact_id and r.status in EARNED), Decimal(0))


@pytest.mark.slow
def test_a_merged_advocate_lives_on_in_the_survivor(connect: Connect,
                                                    sqlite_engine: Engine) -> None:
    portal = connect(sqlite_engine)
    advocate = portal.invited()[0]
    code = portal.state(advocate).referral_code
    assert code
    friend = portal.refer_and_convert(code, "Mergeling")
    rewards = [(r.role, r.status) for r in portal.ledger()]
    assert rewards == [("advocate", "held"), ("friend", "held")]
    survivor = portal.create(email="second.record@advocates.test", firstname="Second",
                             lifecyclestage="lead")
    portal.settle()
    assert portal.state(survivor).referral_code is None  # a lead is never invited

    # HubSpot's merge API: the primary survives, the other record is merged into it
    portal.api("POST", "/crm/v3/objects/contacts/merge",
               {"primaryObjectId": survivor, "objectIdToMerge": advocate})
    portal.settle()

    assert portal.state(survivor).referral_code == code
    assert portal.state(advocate).merged_into == survivor
    [referral] = portal.referrals()
    assert (referral.advocate_contact_id, referral.referred_contact_id, referral.status) == (
        survivor, friend, "converted")
    assert [(r.role, r.contact_id, r.status) for r in portal.ledger()] == [
        ("advocate", survivor, "held"), ("friend", friend, "held")]

    # the code issued to the merged-away record still credits the survivor
    newcomer = portal.create(email="late.friend@friends.test", firstname="Late",
                             lifecyclestage="lead", referred_by_code=f" {code.lower()} ")
    portal.settle()
    by_friend = {r.referred_contact_id: r for r in portal.referrals()}
    assert by_friend[newcomer].advocate_contact_id == survivor

    on_record = portal.props(survivor)
    assert (on_record["referral_code"], on_record["referrals_made"],
            on_record["referrals_converted"]) == (code, "2", "1")
    assert on_record["referral_rewards_earned"] == number_text(earned(portal, survivor)) == "50"
    assert [(r.role, r.status) for r in portal.ledger()] == rewards  # no reward twice


@pytest.mark.slow
def test_deleting_a_friend_cancels_its_held_rewards_and_keeps_payable_ones(
        connect: Connect, sqlite_engine: Engine) -> None:
    portal = connect(sqlite_engine)
    advocate = portal.invited()[0]
    code = portal.state(advocate).referral_code
    assert code
    early = portal.refer_and_convert(code, "Earlybird")
    # the early friend's hold has ended (the clock's job makes its rewards payable)
    with transaction(portal.runtime.sessions) as session:
        released = release_held(session, portal.runtime.program,
                                datetime.now(UTC) + timedelta(days=31))
    assert released == 2
    late = portal.refer_and_convert(code, "Latecomer")
    assert portal.props(advocate)["referrals_converted"] == "2"
    assert portal.props(advocate)["referral_rewards_earned"] == "100"

    portal.api("DELETE", f"/crm/v3/objects/contacts/{late}")
    portal.settle()

    by_contact = {(r.role, r.contact_id, r.referral_id): r for r in portal.ledger()}
    late_referral = next(r for r in portal.referrals() if r.referred_contact_id == late)
    early_referral = next(r for r in portal.referrals() if r.referred_contact_id == early)
    for key in (("friend", late, late_referral.id), ("advocate", advocate, late_referral.id)):
        assert by_contact[key].status == "cancelled", key
        assert by_contact[key].reason, key
    for key in (("friend", early, early_referral.id), ("advocate", advocate, early_referral.id)):
        assert by_contact[key].status == "payable", key
    assert (late_referral.status, late_referral.review_reason) == ("cancelled", "contact deleted")
    assert early_referral.status == "converted"
    assert portal.state(late).journey_state == "paused"
    on_record = portal.props(advocate)
    assert on_record["referrals_converted"] == "1"
    assert on_record["referral_rewards_earned"] == number_text(earned(portal, advocate)) == "50"

    # deleting a friend whose rewards are payable leaves them for accounting
    portal.api("DELETE", f"/crm/v3/objects/contacts/{early}")
    portal.settle()
    assert {r.status for r in portal.ledger() if r.referral_id == early_referral.id} == {
        "payable"}


def scan(engine: Engine, needles: list[str]) -> list[str]:
    """Every (table, row) whose values, as text, contain one of the needles."""
    metadata = MetaData()
    metadata.reflect(engine)
    lowered = [n.lower() for n in needles]
    hits = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                text = " ".join(str(v) for v in row).lower()
                hits.extend(f"{table.name}: {row}" for n in lowered if n in text)
    return hits


@pytest.mark.slow
def test_a_privacy_deleted_friend_leaves_no_trace(connect: Connect, engine: Engine) -> None:
    portal = connect(engine)
    advocate = portal.invited()[0]
    code = portal.state(advocate).referral_code
    assert code
    friend = portal.refer_and_convert(code, "Zeldawyn")
    needles = ["zeldawyn@friends.test", "Zeldawyn", "Friendly"]
    assert scan(engine, needles), "the journey must have put the friend's data in the database"
    amounts = sorted(r.amount for r in portal.ledger())

    portal.api("POST", "/crm/v3/objects/contacts/gdpr-delete",
               {"objectId": friend, "idProperty": "hs_object_id"})
    portal.settle()

    assert scan(engine, needles) == []
    with portal.runtime.sessions() as session:
        [log] = session.scalars(select(ErasureLog)).all()
        assert log.kind == "privacy_deletion" and friend not in (log.contact_hash, log.salt)
        assert session.get(ContactState, friend) is None
    assert sorted(r.amount for r in portal.ledger()) == amounts  # accounting keeps amounts
    assert all(r.contact_id != friend for r in portal.ledger())
