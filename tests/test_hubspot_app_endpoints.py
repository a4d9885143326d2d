"""The app's components calling the connector as HubSpot does, over real HTTP: the contact
card's signed `hubspot.fetch` and the two custom workflow actions, signed v2."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from fixtures_sync import SyncSetup
from sqlalchemy import func, select
from werkzeug.serving import make_server

from connector.db.models import ActionCall, ContactState, OutboxItem
from connector.runtime import Runtime
from connector.sandbox.app_calls import execute_action, fetch_card
from connector.sandbox.server import SandboxHandle
from connector.sandbox.values import now_ms
from connector.sync.passes import run_sync
from connector.web.app import create_app

SECRET = "test-secret"


@pytest.fixture
def portal(sync_setup: SyncSetup) -> Iterator[tuple[SandboxHandle, Runtime, str]]:
    """A synced sandbox portal and the connector's web app serving it on a free port."""
    handle, runtime = sync_setup()
    runtime = Runtime(dataclasses.replace(runtime.settings, public_url=None),
                      engine=runtime.engine)
    run_sync(runtime)
    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handle, runtime, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def on_record(handle: SandboxHandle, runtime: Runtime, contact_id: str) -> dict[str, Any]:
    props = handle.portal.get_contact(contact_id).properties
    return {key: props.get(runtime.property_schema.name(key))
            for key in ("score", "tier", "reasons", "referral_code")}


def contact_with(handle: SandboxHandle, runtime: Runtime, **wanted: str) -> str:
    for contact in handle.portal.live_contacts():
        record = on_record(handle, runtime, str(contact.id))
        if all(record[k] == v for k, v in wanted.items()):
            return str(contact.id)
    raise AssertionError(f"the seed has no contact with {wanted}")


def test_the_card_shows_what_is_on_the_record(portal) -> None:
    handle, runtime, base = portal
    for tier in ("champion", "excluded"):
        contact_id = contact_with(handle, runtime, tier=tier)
        answer = fetch_card(base, contact_id, SECRET)
        assert answer.status_code == 200
        card = answer.json()
        record = on_record(handle, runtime, contact_id)
        assert card["scored"] is True
        assert str(card["score"]) == record["score"] and card["tier"] == record["tier"]
        assert "; ".join(card["reasons"]) == record["reasons"]
        if tier == "excluded":  # which guardrail, and why, in the mapping's words
            assert card["excluded_by"] and all(g["guardrail"] and g["reason"]
                                               for g in card["excluded_by"])
            assert all(f"{g['reason']} (excluded)" in card["reasons"]
                       for g in card["excluded_by"])
        else:
            assert card["excluded_by"] == []
            assert card["referral"]["code"] == record["referral_code"]
            assert card["referral"]["link"] == runtime.program.link(record["referral_code"])


def test_a_contact_not_scored_yet_says_so(portal) -> None:
    _handle, _runtime, base = portal
    answer = fetch_card(base, "987654321", SECRET)
    assert answer.status_code == 200
    assert answer.json() == {"contact_id": "987654321", "scored": False}


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale", "v1 only"])
def test_a_card_request_not_signed_by_hubspot_reveals_nothing(portal, how: str) -> None:
    handle, runtime, base = portal
    contact_id = contact_with(handle, runtime, tier="champion")
    if how == "unsigned":
        answer = requests.get(f"{base}/app/card/contacts/{contact_id}", timeout=5)
    elif how == "wrong secret":
        answer = fetch_card(base, contact_id, "not-the-secret")
    elif how == "stale":
        answer = fetch_card(base, contact_id, SECRET, timestamp_ms=now_ms() - 6 * 60 * 1000)
    else:  # the card is v3 only: a v1 signature (body only) proves nothing about the URL
        import hashlib
        answer = requests.get(
            f"{base}/app/card/contacts/{contact_id}", timeout=5,
            headers={"X-HubSpot-Signature": hashlib.sha256(SECRET.encode()).hexdigest(),
                     "X-HubSpot-Signature-Version": "v1"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "bad signature"}
    assert contact_id not in answer.text


def test_check_readiness_answers_the_four_output_fields(portal) -> None:
    handle, runtime, base = portal
    contact_id = contact_with(handle, runtime, tier="excluded")
    answer = execute_action(base, "check-readiness", contact_id, SECRET)
    assert answer.status_code == 200
    fields = answer.json()["outputFields"]
    record = on_record(handle, runtime, contact_id)
    assert set(fields) == {"score", "tier", "eligible", "reasons"}
    assert (str(fields["score"]), fields["tier"], fields["reasons"]) == (
        record["score"], record["tier"], record["reasons"])
    assert fields["eligible"] is False


def invitations(runtime: Runtime, contact_id: str) -> int:
    with runtime.sessions() as session:
        state = session.get(ContactState, contact_id)
        return state.invitations_sent if state is not None else 0


def test_invite_on_an_excluded_contact_issues_no_code(portal) -> None:
    handle, runtime, base = portal
    contact_id = contact_with(handle, runtime, tier="excluded", referral_code=None)
    answer = execute_action(base, "invite", contact_id, SECRET)
    fields = answer.json()["outputFields"]
    assert fields == {"eligible": False, "referral_code": "", "referral_link": "",
                      "reason": "excluded by a guardrail"}
    with runtime.sessions() as session:
        state = session.get(ContactState, contact_id)
        assert state is not None and state.referral_code is None


def a_new_champion(handle: SandboxHandle, runtime: Runtime) -> str:
    """A contact the connector has never seen, with a champion's properties."""
    model = contact_with(handle, runtime, tier="champion")
    props = {k: v for k, v in handle.portal.get_contact(model).properties.items()
             if v is not None and not k.startswith("hs_object") and k not in (
                 "createdate", "lastmodifieddate") and not k.startswith(("advocate_", "referral"))}
    props["email"] = "new.champion@customers.test"
    return str(handle.portal.create_contact(props).id)


def test_invite_issues_a_code_once_per_callback(portal) -> None:
    handle, runtime, base = portal
    contact_id = a_new_champion(handle, runtime)
    first = execute_action(base, "invite", contact_id, SECRET, callback_id="ap-1-2-3-4")
    fields = first.json()["outputFields"]
    assert fields["eligible"] is True and fields["reason"] == "invited"
    code = fields["referral_code"]
    assert code and fields["referral_link"] == runtime.program.link(code)
    assert invitations(runtime, contact_id) == 1
    with runtime.sessions() as session:  # the code and link go to HubSpot with the next flush
        queued = session.scalars(select(OutboxItem).where(OutboxItem.contact_id == contact_id))
        written = [i.payload["properties"] for i in queued]
    assert any(p.get(runtime.property_schema.name("referral_code")) == code for p in written)

    # HubSpot retries the same execution: the same answer, nothing issued again
    again = execute_action(base, "invite", contact_id, SECRET, callback_id="ap-1-2-3-4")
    assert again.json()["outputFields"] == fields
    assert invitations(runtime, contact_id) == 1

    # another execution inside the cooldown: the existing code and link, and why not now
    later = execute_action(base, "invite", contact_id, SECRET).json()["outputFields"]
    assert later["eligible"] is False and later["referral_code"] == code
    assert "cooldown" in later["reason"]
    assert invitations(runtime, contact_id) == 1
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ActionCall)) == 2


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400),
    (b'{"callbackId": "ap-1", "object": {"objectId": 1, "objectType": "DEAL"}}', 400),
    (b'{"callbackId": "ap-1", "object": {"objectId": "\\u00b2", "objectType": "CONTACT"}}', 400),
    (b'{"object": {"objectId": 1, "objectType": "CONTACT"}}', 400),
])
def test_a_malformed_execution_changes_nothing(portal, body: bytes, status: int) -> None:
    _handle, runtime, base = portal
    import hashlib
    url = f"{base}/app/actions/invite"
    signature = hashlib.sha256(SECRET.encode() + b"POST" + url.encode() + body).hexdigest()
    answer = requests.post(url, data=body, timeout=5, headers={
        "X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2",
        "Content-Type": "application/json"})
    assert answer.status_code == status
    unsigned = requests.post(url, data=body, timeout=5)
    assert unsigned.status_code == 401
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ActionCall)) == 0
