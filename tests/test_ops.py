"""Operations endpoints: /healthz, /readyz (database and sync age), /metrics (Prometheus)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.db.models import SyncCursor
from connector.runtime import Runtime
from connector.web.app import create_app


@pytest.fixture
def client(runtime):
    return create_app(runtime=runtime).test_client()


def set_last_sync(runtime, when: datetime) -> None:
    with Session(runtime.engine) as session, session.begin():
        session.merge(SyncCursor(name="incremental", last_success_at=when, last_status="ok"))


def test_healthz_always_answers(client) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.text == "ok\n"


def test_ready_with_a_recent_sync(client, runtime) -> None:
    set_last_sync(runtime, datetime.now(UTC) - timedelta(minutes=12))
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["status"] == "ready"
    assert answer.json["database"] == "ok"


def test_not_ready_when_sync_is_older_than_three_intervals(client, runtime) -> None:
    # the interval is 10 minutes by default
    set_last_sync(runtime, datetime.now(UTC) - timedelta(minutes=31))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "over 3 sync intervals" in answer.json["reason"]


def test_fresh_install_is_ready_and_says_it_waits(client) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["reason"] == "waiting for the first sync"
    assert answer.json["last_sync_success_at"] is None


def test_not_ready_when_the_database_is_unreachable(settings, tmp_path) -> None:
    missing = Settings(**{**settings.__dict__,
                          "database_url": f"sqlite:///{tmp_path}/no/such/dir/connector.db"})
    client = create_app(runtime=Runtime(missing)).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["reason"].startswith("database unreachable")
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200  # still serves the process's metrics


def metric(text: str, name: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def test_metrics_refresh_backlogs_from_the_database(program_sqlite, settings) -> None:
    client = create_app(runtime=Runtime(settings, engine=program_sqlite.engine)).test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    assert metric(answer.text, "connector_inbox_backlog") == 3
    assert metric(answer.text, "connector_dead_events") == 1
    assert metric(answer.text, "connector_outbox_backlog") == 1
    last = datetime(2026, 3, 18, 11, 55, tzinfo=UTC).timestamp()
    assert metric(answer.text, "connector_last_sync_success_timestamp_seconds") == last


def test_metrics_collect_every_worker_under_gunicorn(tmp_path, sqlite_url, sqlite_engine) -> None:
    # prometheus-client reads PROMETHEUS_MULTIPROC_DIR at import, hence a fresh interpreter
    script = textwrap.dedent("""
        from connector import metrics
        from connector.cli.wiring import create_app
        metrics.WEBHOOK_EVENTS.labels(outcome="stored").inc(7)
        app = create_app()
        print(app.test_client().get("/metrics").text)
    """)
    shared = tmp_path / "prometheus"  # only prometheus files: it reads every *.db there
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "DATABASE_URL": sqlite_url,
           "HUBSPOT_CLIENT_SECRET": "client-secret-abcdef"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert 'connector_webhook_events_total{outcome="stored"} 7.0' in out
    assert "connector_inbox_backlog 0.0" in out
    assert list(shared.glob("*.db")), "values are written to the shared directory"
