"""Erasure leaves no bytes: after a privacy deletion handled by the worker, with the Procfile's
web process still running on the same database, the raw SQLite file and its WAL hold neither
the contact's email nor its name; on PostgreSQL the rewritten tables have been vacuumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from fixtures_procfile import WebProcessFactory
from fixtures_program import ProgramHarness
from fixtures_webhooks import HubSpotSigner, contact_event
from sqlalchemy import Engine, text
from test_erasure import FIRST, FRIEND_EMAIL, LAST, scan, seed_whole_journey

from connector.config import Settings
from connector.db.models import ErasureLog
from connector.queue.inbox import store_events
from connector.runtime import Runtime
from connector.web.deliveries import parse_hubspot_events
from connector.worker.drain import drain_inbox

SECRET = "erasure-secret"
DASHBOARD = "erasure-dashboard-token"
NEEDLES = [FRIEND_EMAIL, FIRST, LAST]
# the tables that hold rows keyed by the erased contact in the seeded journey (the outbox holds
# none of the friend's: its reward workflow waits for the payment)
REWRITTEN = {"contact_state", "inbox_event", "referral", "referral_rejection", "reward_ledger",
             "audit_log"}


def raw_hits(database: Path, engine: Engine) -> list[str]:
    """Which needles occur, in any case, in the database file or its WAL (as `strings` would
    find them).

    This process's SQLite connections are closed first: closing any descriptor of a file
    drops every POSIX lock the process holds on it, so reading the file beside open
    connections would break their locking (SQLite's own warning), not the product's.
    """
    engine.dispose()
    hits = []
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            content = path.read_bytes().lower()
            hits += [f"{path.name}: {n}" for n in NEEDLES if n.lower().encode() in content]
    return hits


def privacy_deletion(contact_id: int) -> list[dict]:
    return [contact_event(contact_id, event_id=777, subscriptionType="contact.privacyDeletion",
                          propertyName=None, propertyValue=None)]


def vacuum_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT relname, vacuum_count FROM pg_stat_user_tables"))
        return {name: int(count) for name, count in rows}


def harness_on(engine: Engine, sqlite_url: str) -> ProgramHarness:
    """The program's harness (the repository's program and properties) on this database."""
    return ProgramHarness(Runtime(Settings(database_url=sqlite_url), engine=engine))


def test_an_erasure_leaves_no_bytes_in_the_sqlite_file_or_its_wal(
        sqlite_engine: Engine, procfile_web: WebProcessFactory, sqlite_url: str) -> None:
    program_harness = harness_on(sqlite_engine, sqlite_url)
    runtime = program_harness.runtime
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    seed_whole_journey(program_harness)
    assert raw_hits(database, runtime.engine), "the seed must put the friend's data in the files"
    web = procfile_web(DATABASE_URL=sqlite_url, HUBSPOT_CLIENT_SECRET=SECRET,
                       DASHBOARD_TOKEN=DASHBOARD)
    body = json.dumps(privacy_deletion(2)).encode()
    delivered = requests.post(web.base + "/webhooks/hubspot", data=body, timeout=10,
                              headers=HubSpotSigner(SECRET, web.base).headers(body))
    assert delivered.status_code == 204
    # the web process reads the same tables (its pooled connections stay open)
    report = requests.get(web.base + "/dashboard/data.json", timeout=10,
                          headers={"Authorization": f"Bearer {DASHBOARD}"})
    assert report.status_code == 200

    drained = drain_inbox(runtime)  # the seed's own events about the friend go too
    assert drained.handled == 3 and drained.retried == drained.dead == 0
    assert program_harness.rows(ErasureLog)
    assert scan(program_harness, NEEDLES) == []  # no row holds it...
    assert raw_hits(database, runtime.engine) == []  # ...and no byte of the file or the WAL does

    assert requests.get(web.base + "/healthz", timeout=5).status_code == 200  # still running
    again = requests.get(web.base + "/dashboard/data.json", timeout=10,
                         headers={"Authorization": f"Bearer {DASHBOARD}"})
    assert again.status_code == 200 and FRIEND_EMAIL.lower() not in again.text.lower()


@pytest.mark.postgres
def test_an_erasure_batch_vacuums_the_tables_it_rewrote_on_postgres(
        pg_engine: Engine, sqlite_url: str) -> None:
    program_harness = harness_on(pg_engine, sqlite_url)
    runtime = program_harness.runtime
    seed_whole_journey(program_harness)
    store_events(runtime.engine, parse_hubspot_events(json.dumps(privacy_deletion(2)).encode()))
    holding = {hit.split(":")[0] for hit in scan(program_harness, NEEDLES)}
    assert holding, "the seeded journey holds the friend's personal values"
    before = vacuum_counts(runtime.engine)
    assert drain_inbox(runtime).handled == 3
    after = vacuum_counts(runtime.engine)
    vacuumed = {name for name, count in after.items() if count > before.get(name, 0)}
    # every table the erasure rewrote: those keyed by the contact and those that held its values
    assert vacuumed >= REWRITTEN | holding, vacuumed
    assert scan(program_harness, NEEDLES) == []
