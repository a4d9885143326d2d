"""The webhook receiver: verify, store durably, then acknowledge; nothing else touches state."""

from __future__ import annotations

import dataclasses
import io
import json
import threading

import pytest
from fixtures_webhooks import HubSpotSigner, contact_event
from fixtures_webhooks import inbox_count as count
from fixtures_webhooks import webhook_metric as metric
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from connector.db.models import InboxEvent
from connector.runtime import Runtime
from connector.web.app import create_app


def inbox_rows(engine: Engine) -> list[InboxEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_signed_batch_is_stored_then_acknowledged(webhook_client, signer, runtime):
    events = [contact_event(i) for i in range(1, 101)]
    before = metric("stored")
    response = signer.post(webhook_client, events)
    assert response.status_code == 204
    rows = inbox_rows(runtime.engine)
    assert len(rows) == 100
    assert {r.object_id for r in rows} == {str(i) for i in range(1, 101)}
    assert all(r.status == "pending" and r.source == "hubspot" for r in rows)
    assert rows[0].subscription_type == "contact.propertyChange"
    assert metric("stored") - before == 100


def test_property_values_are_not_stored(webhook_client, signer, runtime):
    event_ = contact_event(7, propertyName="email", propertyValue="ada@example.com")
    assert signer.post(webhook_client, [event_]).status_code == 204
    (row,) = inbox_rows(runtime.engine)
    assert "ada@example.com" not in json.dumps(row.payload)
    assert row.payload["propertyName"] == "email"


def test_same_batch_twice_is_stored_once(webhook_client, signer, runtime):
    events = [contact_event(i) for i in range(1, 6)]
    before = metric("duplicate")
    assert signer.post(webhook_client, events).status_code == 204
    assert signer.post(webhook_client, events).status_code == 204
    assert count(runtime.engine) == 5
    assert metric("duplicate") - before == 5


def test_redelivery_with_higher_attempt_number_is_the_same_event(webhook_client, signer, runtime):
    assert signer.post(webhook_client, [contact_event(1, attemptNumber=0)]).status_code == 204
    assert signer.post(webhook_client, [contact_event(1, attemptNumber=3)]).status_code == 204
    assert count(runtime.engine) == 1


def test_a_reused_event_id_on_other_objects_is_kept(webhook_client, signer, runtime):
    # HubSpot documents eventId as not guaranteed unique
    events = [contact_event(1, event_id=99), contact_event(2, event_id=99)]
    assert signer.post(webhook_client, events).status_code == 204
    assert count(runtime.engine) == 2


def test_event_type_is_accepted_for_subscription_type(webhook_client, signer, runtime):
    event_ = contact_event(3)
    event_["eventType"] = event_.pop("subscriptionType")
    assert signer.post(webhook_client, [event_]).status_code == 204
    assert inbox_rows(runtime.engine)[0].subscription_type == "contact.propertyChange"


def test_empty_batch_is_acknowledged(webhook_client, signer, runtime):
    assert signer.post(webhook_client, []).status_code == 204
    assert count(runtime.engine) == 0


def test_bad_signature_is_401_and_stores_nothing(webhook_client, signer, runtime):
    body = json.dumps([contact_event(1)]).encode()
    headers = signer.headers(body)
    before = metric("rejected_signature")
    response = webhook_client.post("/webhooks/hubspot", data=body + b" ", headers=headers)
    assert response.status_code == 401
    assert count(runtime.engine) == 0
    assert metric("rejected_signature") - before == 1


def test_unsigned_request_is_401(webhook_client, runtime):
    response = webhook_client.post("/webhooks/hubspot", json=[contact_event(1)])
    assert response.status_code == 401
    assert count(runtime.engine) == 0


def test_stale_signature_is_401(webhook_client, signer, runtime):
    import time

    stale = int(time.time() * 1000) - 6 * 60 * 1000
    assert signer.post(webhook_client, [contact_event(1)], ts_ms=stale).status_code == 401
    assert count(runtime.engine) == 0


@pytest.mark.parametrize("body", [
    b"not json", b'{"eventId": 1}', b"[1, 2]", b'[{"eventId": 1, "objectId": 2}]',
    b'[{"eventId": 1, "objectId": "abc", "subscriptionType": "contact.creation"}]',
    b'[{"objectId": 1, "subscriptionType": "contact.creation"}]', "[\"\xff\"]".encode("latin-1"),
])
def test_malformed_body_is_400_and_stores_nothing(webhook_client, signer, runtime, body):
    assert signer.post(webhook_client, body).status_code == 400
    assert count(runtime.engine) == 0


def test_oversized_body_is_413(webhook_client, signer, runtime):
    body = b"[" + b" " * (1024 * 1024) + b"]"
    assert signer.post(webhook_client, body).status_code == 413
    assert count(runtime.engine) == 0


@pytest.mark.parametrize("path", ["/webhooks/hubspot", "/webhooks/workflow/milestone",
                                  "/app/actions/invite_advocate"])
def test_a_chunked_body_over_1_mib_is_413(webhook_client, signer, runtime, path):
    """No Content-Length to refuse up front: the limit holds while the body is read."""
    body = b"[" + b" " * (1024 * 1024) + b"]"
    response = webhook_client.post(
        path, input_stream=io.BytesIO(body),
        headers=signer.headers(body, path=path) | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})  # as gunicorn and werkzeug set it
    assert response.status_code == 413
    small = json.dumps([contact_event(1)]).encode()
    response = webhook_client.post(
        "/webhooks/hubspot", input_stream=io.BytesIO(small),
        headers=signer.headers(small) | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 204
    assert count(runtime.engine) == 1


def test_url_is_rebuilt_from_forwarded_headers_without_public_url(settings, sqlite_engine):
    """Behind one configured proxy (TRUSTED_PROXY_HOPS=1) its X-Forwarded-* rebuild the URL."""
    runtime = Runtime(dataclasses.replace(settings, public_url=None, trusted_proxy_hops=1),
                      engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "https://hooks.example.com")
    body = json.dumps([contact_event(1)]).encode()
    headers = signer.headers(body) | {"X-Forwarded-Proto": "https",
                                      "X-Forwarded-Host": "hooks.example.com"}
    assert client.post("/webhooks/hubspot", data=body, headers=headers).status_code == 204
    headers["X-Forwarded-Host"] = "other.example.com"
    assert client.post("/webhooks/hubspot", data=body, headers=headers).status_code == 401


def test_query_string_is_part_of_the_signed_url(webhook_client, signer, runtime):
    body = json.dumps([contact_event(1)]).encode()
    headers = signer.headers(body, path="/webhooks/hubspot?portal=62515")
    ok = webhook_client.post("/webhooks/hubspot?portal=62515", data=body, headers=headers)
    assert ok.status_code == 204
    bad = webhook_client.post("/webhooks/hubspot?portal=1", data=body, headers=headers)
    assert bad.status_code == 401


class Outage:
    """Makes every new connection of an engine fail, as when the database is down."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.down = False
        event.listen(engine, "do_connect", self._connect)

    def _connect(self, *args, **kwargs):
        if self.down:
            dbapi = self.engine.dialect.loaded_dbapi
            raise dbapi.OperationalError("connection refused (simulated outage)")
        return None

    def start(self) -> None:
        self.down = True
        self.engine.dispose()  # drop pooled connections so the next use must reconnect

    def stop(self) -> None:
        self.down = False


def test_database_down_is_503_then_the_retry_is_accepted_once(settings, sqlite_engine):
    runtime = Runtime(settings, engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "http://connector.test")
    events = [contact_event(i) for i in range(1, 4)]
    outage = Outage(sqlite_engine)
    outage.start()
    assert signer.post(client, events).status_code == 503
    outage.stop()
    assert count(sqlite_engine) == 0
    # HubSpot retries the same events with a higher attemptNumber
    retry = [dict(e, attemptNumber=1) for e in events]
    assert signer.post(client, retry).status_code == 204
    assert signer.post(client, retry).status_code == 204
    assert count(sqlite_engine) == 3


@pytest.mark.postgres
def test_database_down_on_postgres_is_503(settings, pg_engine):
    runtime = Runtime(settings, engine=pg_engine)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "http://connector.test")
    outage = Outage(pg_engine)
    outage.start()
    try:
        assert signer.post(client, [contact_event(1)]).status_code == 503
    finally:
        outage.stop()
    assert signer.post(client, [contact_event(1)]).status_code == 204
    assert count(pg_engine) == 1


@pytest.mark.postgres
def test_concurrent_duplicate_deliveries_store_once_without_errors(settings, pg_engine):
    app = create_app(runtime=Runtime(settings, engine=pg_engine))
    signer = HubSpotSigner("test-secret", "http://connector.test")
    events = [contact_event(i) for i in range(1, 101)]
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(signer.post(client, events).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [204] * 6
    assert count(pg_engine) == 100


def test_public_url_with_a_path_prefix_behind_a_proxy(settings, sqlite_engine):
    public = "https://hooks.example.com/connector"
    runtime = Runtime(dataclasses.replace(settings, public_url=public), engine=sqlite_engine)
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", public)
    body = json.dumps([contact_event(1)]).encode()
    headers = signer.headers(body) | {"X-Forwarded-Prefix": "/connector"}
    assert client.post("/webhooks/hubspot", data=body, headers=headers).status_code == 204


def test_store_events_keeps_occurrence_times_on_both_databases(engine):
    """The PostgreSQL fast path sends HubSpot's milliseconds as numbers; the time must agree."""
    from datetime import UTC, datetime

    from connector.queue.inbox import NewEvent, store_events
    from connector.web.deliveries import parse_hubspot_events

    delivered = [dict(contact_event(1), occurredAt=1_767_225_600_123)]
    parsed = parse_hubspot_events(json.dumps(delivered).encode())
    # an event built elsewhere with only a datetime (no milliseconds) keeps its time too
    built = NewEvent("wf:test:7:abc", None, "workflow", "workflow.test", "7",
                     datetime(2026, 2, 1, 8, 30, tzinfo=UTC), {"hs_object_id": "7"})
    assert store_events(engine, [*parsed, built]) == 2
    assert store_events(engine, [*parsed, built]) == 0  # duplicates ignored, not an error
    times = {row.object_id: row.occurred_at.replace(tzinfo=UTC) for row in inbox_rows(engine)}
    assert times[parsed[0].object_id] == datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC)
    assert times["7"] == datetime(2026, 2, 1, 8, 30, tzinfo=UTC)
