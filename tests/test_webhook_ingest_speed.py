"""The ingest fast paths keep the slow paths' answers: JSON reading, no ping, row encoding."""

from __future__ import annotations

import json

import pytest
from fixtures_webhooks import contact_event
from sqlalchemy import func, select, text

from connector.config import Settings
from connector.db.models import InboxEvent
from connector.db.session import make_engine
from connector.queue.inbox import store_events
from connector.runtime import Runtime
from connector.web.deliveries import (
    BadEvents,
    hubspot_event_key,
    parse_hubspot_events,
    parse_workflow_event,
)


def test_ids_beyond_64_bits_are_read_exactly():
    """orjson reads them as floats; the standard json's exact reading must win."""
    big = 2**64 + 7
    body = json.dumps([contact_event(big, event_id=big + 1)]).encode()
    parsed = parse_hubspot_events(body)
    assert parsed[0].object_id == str(big)
    assert parsed[0].event_id == str(big + 1)
    assert parsed[0].event_key == hubspot_event_key(json.loads(body)[0])
    workflow = parse_workflow_event("nps", json.dumps({"hs_object_id": big}).encode())
    assert workflow.object_id == str(big)


def test_what_only_the_standard_json_accepts_is_still_accepted():
    """NaN in a field we do not read: json takes it, orjson does not; the answer stays json's."""
    body = b'[{"eventId": 1, "objectId": 2, "subscriptionType": "contact.creation", "x": NaN}]'
    assert [e.object_id for e in parse_hubspot_events(body)] == ["2"]


@pytest.mark.parametrize("body", [b"", b"[", b"{}", b'[{"eventId": 1.5}]', b"\xff"])
def test_bad_bodies_are_still_refused(body):
    with pytest.raises(BadEvents):
        parse_hubspot_events(body)


def test_a_payload_integer_beyond_64_bits_is_stored_exactly(engine):
    """orjson cannot write it; the standard encoder takes over rather than failing the 204."""
    big = 2**70
    events = parse_hubspot_events(json.dumps([contact_event(5, appId=big)]).encode())
    assert store_events(engine, events) == 1
    with engine.connect() as conn:
        payload = conn.scalar(select(InboxEvent.payload))
    assert payload["appId"] == big


def test_pre_ping_follows_the_environment(pg_database_url):
    off = Settings.from_env({"DATABASE_URL": pg_database_url, "CONNECTOR_DB_PRE_PING": "0"})
    assert Runtime(off).engine.pool._pre_ping is False
    on = Settings.from_env({"DATABASE_URL": pg_database_url, "CONNECTOR_DB_PRE_PING": "1"})
    assert Runtime(on).engine.pool._pre_ping is True
    assert make_engine(pg_database_url, pre_ping=False).pool._pre_ping is False


def test_a_dropped_connection_without_ping_is_retried_once(pg_engine, pg_database_url):
    """The web does not ping on checkout: a connection the server dropped costs one retry."""
    engine = make_engine(pg_database_url, pre_ping=False)
    try:
        first = parse_hubspot_events(json.dumps([contact_event(1)]).encode())
        assert store_events(engine, first) == 1
        with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            dropped = admin.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar()
        assert dropped and dropped >= 1  # the pooled connection is gone
        second = parse_hubspot_events(json.dumps([contact_event(2)]).encode())
        assert store_events(engine, second) == 1
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 2
    finally:
        engine.dispose()
