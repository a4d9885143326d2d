"""`connector events list|replay` and `connector worker --once` from the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fixtures_webhooks import contact_event
from sqlalchemy import update

from connector.cli import cli
from connector.db.models import InboxEvent
from connector.queue.inbox import store_events
from connector.sync import flush as sync_flush
from connector.sync import rescore
from connector.web.deliveries import parse_hubspot_events


@pytest.fixture
def cli_env(sqlite_url, sqlite_engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "test-token")
    store_events(sqlite_engine, parse_hubspot_events(
        json.dumps([contact_event(1), contact_event(2)]).encode()))
    with sqlite_engine.begin() as conn:
        conn.execute(update(InboxEvent).where(InboxEvent.object_id == "2")
                     .values(status="dead", attempts=8, last_error="RuntimeError: boom"))
    return sqlite_engine


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_events_list_json_has_the_documented_fields(cli_env):
    result = run("events", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["object_id"]: r["status"] for r in rows} == {"1": "pending", "2": "dead"}
    for key in ("id", "event_id", "status", "attempts", "last_error", "subscription_type",
                "object_id", "received_at"):
        assert key in rows[0]
    dead = json.loads(run("events", "list", "--status", "dead", "--json").output)
    assert [(r["event_id"], r["attempts"], r["last_error"]) for r in dead] == [
        ("20", 8, "RuntimeError: boom")]


def test_events_list_text(cli_env):
    result = run("events", "list")
    assert result.exit_code == 0
    assert "dead" in result.output and "RuntimeError: boom" in result.output


def test_events_replay_dead_and_by_id(cli_env):
    assert "1 event(s)" in run("events", "replay", "--dead").output
    rows = json.loads(run("events", "list", "--json").output)
    assert {r["status"] for r in rows} == {"pending"} and {r["attempts"] for r in rows} == {0}
    assert "1 event(s)" in run("events", "replay", str(rows[0]["id"])).output


def test_events_replay_needs_exactly_one_target(cli_env):
    result = CliRunner().invoke(cli, ["events", "replay"])
    assert result.exit_code == 2 and "inbox id or --dead" in result.output
    result = CliRunner().invoke(cli, ["events", "replay", "99999"])
    assert result.exit_code == 2 and "no inbox event 99999" in result.output


def test_worker_once_drains_and_exits(cli_env, monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(rescore, "rescore_contacts",
                        lambda rt, ids, *, reason, isolate=False: calls.append(list(ids)) or
                        rescore.RescoreSummary())
    monkeypatch.setattr(sync_flush, "flush_outbox", lambda rt: 0, raising=False)
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert calls == [["1"]]
    rows = json.loads(run("events", "list", "--json").output)
    assert {r["object_id"]: r["status"] for r in rows} == {"1": "done", "2": "dead"}
