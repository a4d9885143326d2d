"""One bad event never takes others down: malformed deliveries are a 400 told apart from an
outage, ids are ASCII digits, and a contact whose re-score fails fails alone in the worker."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import quote

import pytest
from fixtures_sync import SyncSetup
from fixtures_webhooks import HubSpotSigner, contact_event
from fixtures_webhooks import inbox_count as count
from fixtures_webhooks import webhook_metric as metric
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DataError, OperationalError

from connector.db.models import ContactState, InboxEvent, utcnow
from connector.program import hooks
from connector.queue.inbox import list_events, replay
from connector.runtime import Runtime
from connector.web import webhooks
from connector.web.app import create_app
from connector.web.signatures import sign_v3
from connector.worker.drain import drain_inbox

SECRET, PUBLIC = "test-secret", "http://connector.test"  # the `settings` fixture's


def delivery(*changed: dict) -> bytes:
    """Eleven good events and the bad ones, as one signed delivery would carry them."""
    good = [contact_event(n) for n in range(1, 12)]
    return json.dumps([*good, *changed]).encode()


BAD_DELIVERIES = {
    "superscript object id": delivery(contact_event(12, objectId="²")),
    "fullwidth event id": delivery(contact_event(12, eventId="１２３")),
    "NUL in propertyName": delivery(contact_event(12, propertyName="hs_\u0000nps")),
    "NUL in subscriptionType": delivery(contact_event(12, subscriptionType="contact.\u0000")),
    "lone surrogate in propertyName": delivery(contact_event(12, propertyName="nps\udc80")),
    "lone surrogate in subscriptionType": delivery(
        contact_event(12, subscriptionType="contact.\ud800creation")),
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "nested inside an event": json.dumps(
        [contact_event(1, changeSource=[[[["deep"]]]])]).encode(),
    "UTF-8 with a BOM": b"\xef\xbb\xbf" + delivery(),
    "UTF-16": json.dumps(json.loads(delivery())).encode("utf-16"),
    "UTF-16 without a BOM": json.dumps(json.loads(delivery())).encode("utf-16-le"),
}


@pytest.mark.parametrize("name", sorted(BAD_DELIVERIES))
def test_a_bad_delivery_is_400_and_nothing_of_it_is_stored(engine: Engine, settings,
                                                           name: str) -> None:
    """On both databases: PostgreSQL used to refuse the INSERT (503 on every retry)."""
    client = create_app(runtime=Runtime(settings, engine=engine)).test_client()
    signer = HubSpotSigner(SECRET, PUBLIC)
    response = signer.post(client, BAD_DELIVERIES[name])
    assert response.status_code == 400, response.text
    assert count(engine) == 0
    assert signer.post(client, delivery()).status_code == 204  # the good ones alone are fine
    assert count(engine) == 11


def test_a_bad_delivery_is_told_apart_from_an_outage(webhook_client, signer, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="connector.web.webhooks")
    rejected, unavailable = metric("rejected_body"), metric("unavailable")
    body = BAD_DELIVERIES["NUL in propertyName"]
    assert signer.post(webhook_client, body).status_code == 400
    assert metric("rejected_body") == rejected + 1
    assert metric("unavailable") == unavailable
    messages = [r.getMessage() for r in caplog.records]
    assert any("bad delivery" in m and "NUL" in m for m in messages), messages
    assert not any("inbox unavailable" in m for m in messages)


def test_workflow_webhooks_take_ascii_ids_only(webhook_client, signer) -> None:
    for raw in ("²", "１２３", "12\n3"):
        body = json.dumps({"properties": {"hs_object_id": raw}}).encode()
        response = signer.post(webhook_client, body, path="/webhooks/workflow/milestone")
        assert response.status_code == 400, raw
    body = json.dumps({"properties": {"hs_object_id": "123"}}).encode()
    path = "/webhooks/workflow/milestone%0A"  # a name with a final newline is no name
    assert signer.post(webhook_client, body, path=path).status_code in (400, 404)


def card(client, contact_id: str):
    path = f"/app/card/contacts/{quote(contact_id, safe='')}?userId=1&portalId=62515"
    ts = int(utcnow().timestamp() * 1000)
    return client.get(path, headers={
        "X-HubSpot-Signature-v3": sign_v3(SECRET, "GET", PUBLIC + path, b"", ts),
        "X-HubSpot-Request-Timestamp": str(ts)})


def test_the_card_and_the_actions_take_ascii_ids_only(webhook_client, signer) -> None:
    assert card(webhook_client, "12").status_code == 200
    for raw in ("²", "１２３", "12\n"):
        assert card(webhook_client, raw).status_code == 400, repr(raw)
    for raw in ("²", "１２３", "12\n"):
        body = json.dumps({"callbackId": "cb-1", "object": {"objectId": raw,
                                                            "objectType": "CONTACT"}}).encode()
        response = signer.post(webhook_client, body, path="/app/actions/check-readiness")
        assert response.status_code == 400, repr(raw)
    body = json.dumps({"callbackId": "cb-1\n", "object": {"objectId": 12,
                                                          "objectType": "CONTACT"}}).encode()
    assert signer.post(webhook_client, body,
                       path="/app/actions/check-readiness").status_code == 400


def test_a_non_ascii_signature_timestamp_is_401(webhook_client, signer) -> None:
    body = delivery()
    headers = signer.headers(body) | {"X-HubSpot-Request-Timestamp": "²"}
    response = webhook_client.post("/webhooks/hubspot", data=body, headers=headers)
    assert response.status_code == 401


# -- the worker: a failing contact fails alone ----------------------------------------------


def make_due(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def scored(runtime: Runtime) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(select(ContactState.contact_id)
                                   .where(ContactState.score.is_not(None))))


def test_a_contact_whose_rescore_fails_fails_alone(sync_setup: SyncSetup, monkeypatch) -> None:
    handle, runtime = sync_setup()
    ids = [str(c.id) for c in handle.portal.live_contacts()[:12]]
    poison = ids[5]
    real = hooks.on_contact

    def on_contact(session, runtime, contact, *args):  # type: ignore[no-untyped-def]
        if contact.id == poison:
            raise ValueError("this contact's data breaks the program")
        return real(session, runtime, contact, *args)

    monkeypatch.setattr(hooks, "on_contact", on_contact)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner(SECRET, PUBLIC)
    events = [contact_event(int(i), event_id=n) for n, i in enumerate(ids, start=1)]
    assert signer.post(client, events).status_code == 204

    first = drain_inbox(runtime, max_attempts=3)
    assert (first.handled, first.retried, first.dead) == (11, 1, 0)
    assert scored(runtime) == set(ids) - {poison}
    rows = {r["object_id"]: r for r in list_events(runtime.engine)}
    assert {o for o, r in rows.items() if r["status"] == "done"} == set(ids) - {poison}
    assert "ValueError: this contact's data breaks the program" in rows[poison]["last_error"]
    for _ in range(2):
        make_due(runtime)
        drain_inbox(runtime, max_attempts=3)
    rows = {r["object_id"]: r for r in list_events(runtime.engine)}
    assert [o for o, r in rows.items() if r["status"] == "dead"] == [poison]
    assert all(rows[o]["attempts"] == 1 for o in ids if o != poison)

    # all twelve dead together (as before this fix) and replayed: only the poison dies again
    with runtime.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(status="dead"))
    assert replay(runtime.engine, dead=True) == 12
    again = drain_inbox(runtime, max_attempts=1)
    assert (again.handled, again.dead) == (11, 1)
    assert [r["object_id"] for r in list_events(runtime.engine, status="dead")] == [poison]


def test_an_outage_still_fails_the_whole_batch_without_splitting(sync_setup: SyncSetup,
                                                                 monkeypatch) -> None:
    """Splitting is for one contact's fault: an outage would only be asked again and again."""
    handle, runtime = sync_setup()
    ids = [str(c.id) for c in handle.portal.live_contacts()[:8]]
    calls: list[list[str]] = []

    def down(wanted, properties):  # type: ignore[no-untyped-def]
        calls.append(list(wanted))
        raise ConnectionError("HubSpot is unreachable")

    monkeypatch.setattr(runtime.gateway, "read_contacts", down)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner(SECRET, PUBLIC)
    assert signer.post(client, [contact_event(int(i)) for i in ids]).status_code == 204
    summary = drain_inbox(runtime)
    assert summary.retried == 8 and summary.handled == 0
    assert len(calls) == 1


@pytest.mark.parametrize(("error", "status", "outcome", "said"), [
    (DataError("INSERT", {}, Exception("invalid byte sequence")), 400, "rejected_body",
     "bad delivery"),
    (OperationalError("INSERT", {}, Exception("connection refused")), 503, "unavailable",
     "inbox unavailable"),
])
def test_the_database_refusing_a_value_is_not_an_outage(webhook_client, signer, monkeypatch,
                                                        caplog, error, status, outcome,
                                                        said) -> None:
    """A value the database refuses is refused again on every retry: 400, not 503."""
    def refuse(engine, events):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(webhooks, "store_events", refuse)
    before = metric(outcome)
    assert signer.post(webhook_client, delivery()).status_code == status
    assert metric(outcome) == before + 11
    assert any(said in r.getMessage() for r in caplog.records)
