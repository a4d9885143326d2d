"""What an operator meets when something is wrong: every failure of a command is one line
(`error: ...`) and a non-zero exit, the traceback only with `--debug`; /readyz and the web
process tell an unreachable database from one that is not migrated."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from conftest import PG_ADMIN_URL, _postgres_unavailable
from sqlalchemy import create_engine, pool, text

from connector.cli import cli, wiring
from connector.config import Settings
from connector.db.migrate import schema_status, upgrade
from connector.db.session import make_engine
from connector.hubspot import gateway as gateway_module
from connector.hubspot.retry import RetryPolicy
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.web.app import create_app

# every command that reads the connector's database before doing its job
DATABASE_COMMANDS = [
    ["sync"], ["worker", "--once"], ["events", "list"], ["rewards", "list"], ["audit", "1"],
    ["score", "1"], ["install", "--dry-run"], ["report"], ["clock"],
]
HUBSPOT_COMMANDS = [["install", "--dry-run"], ["sync", "--full"], ["score", "1"]]


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A PostgreSQL database of its own with no tables: never migrated."""
    admin = create_engine(PG_ADMIN_URL, poolclass=pool.NullPool,
                          isolation_level="AUTOCOMMIT")
    name = f"connector_empty_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unavailable"
        _postgres_unavailable(str(exc).splitlines()[0])
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env={"LOG_FORMAT": "text", **env})


def one_line(result: Result) -> str:
    """The command failed with one `error:` line, last on stderr, and no traceback (log lines
    from before the failure may precede it)."""
    assert result.exit_code not in (0, None), result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.output
    return errors[0]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's usual retry policy, without sleeping through its waits."""
    monkeypatch.setattr(gateway_module, "RetryPolicy",
                        functools.partial(RetryPolicy, sleep=lambda _s: None))


# -- the database ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda a: " ".join(a))
def test_before_db_upgrade_on_postgres_every_command_says_to_run_it(
    args: list[str], empty_pg_url: str,
) -> None:
    result = run(args, {"DATABASE_URL": empty_pg_url, "HUBSPOT_ACCESS_TOKEN": "token",
                        "HUBSPOT_BASE_URL": "http://127.0.0.1:1"})
    line = one_line(result)
    assert result.exit_code == 2
    assert "is not migrated" in line and "run `connector db upgrade`" in line


@pytest.mark.postgres
def test_a_database_behind_the_code_names_both_revisions(empty_pg_url: str) -> None:
    upgrade(empty_pg_url, "0002")
    line = one_line(run(["events", "list"], {"DATABASE_URL": empty_pg_url}))
    assert "is at migration 0002, this version needs" in line
    assert "run `connector db upgrade`" in line


@pytest.mark.parametrize("args", [["events", "list"], ["rewards", "list"], ["audit", "7"],
                                  ["report"]], ids=lambda a: " ".join(a))
def test_on_sqlite_the_first_command_applies_the_migrations(args: list[str],
                                                            tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = run(args, {"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # silently: the command's output stays its own
    engine = make_engine(url)
    assert schema_status(engine).state == "current"
    engine.dispose()
    again = run(args, {"DATABASE_URL": url})
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("args", [["events", "list"], ["report"], ["sync"], ["clock"]],
                         ids=lambda a: " ".join(a))
def test_an_unreachable_database_is_one_line(args: list[str]) -> None:
    result = run(args, {"DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/connector",
                        "HUBSPOT_ACCESS_TOKEN": "token"})
    line = one_line(result)
    assert line.startswith("error: cannot reach the database "
                           "postgresql+psycopg://postgres:***@127.0.0.1:1/connector")
    assert "hunter2" not in result.output
    assert "db upgrade" not in line  # the report used to advise migrating a database it never saw


@pytest.mark.postgres
def test_a_missing_database_is_one_line() -> None:
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + "/connector_no_such_database"
    line = one_line(run(["report"], {"DATABASE_URL": missing}))
    assert "cannot reach the database" in line
    assert 'database "connector_no_such_database" does not exist' in line
    assert "db upgrade" not in line


def test_an_unsupported_database_url_is_one_line() -> None:
    line = one_line(run(["events", "list"], {"DATABASE_URL": "mysql://u:secret@db/connector"}))
    assert line == ("error: DATABASE_URL is a mysql URL (mysql://u:***@db/connector); the "
                    "connector runs on PostgreSQL (postgresql://user:password@host/db) or SQLite "
                    "(sqlite:///file.db)")


@pytest.mark.postgres
def test_a_database_restarted_mid_pass_is_one_line(sync_setup, pg_engine,
                                                   pg_database_url: str) -> None:
    handle, _runtime = sync_setup(engine=pg_engine)
    # every call takes a while, so a page's transaction is open while HubSpot answers
    requests.post(f"{handle.url}/_sandbox/faults", json={"latency_ms": 150}, timeout=5)
    done = threading.Event()
    killer = make_engine(PG_ADMIN_URL)

    def restart_loop() -> None:
        database = pg_database_url.rsplit("/", 1)[1]
        while not done.wait(0.1):
            with killer.begin() as conn:  # what a restart does to every open session
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :db AND pid <> pg_backend_pid()"),
                             {"db": database})

    thread = threading.Thread(target=restart_loop, daemon=True)
    thread.start()
    try:
        result = run(["sync", "--full"], {
            "DATABASE_URL": pg_database_url, "HUBSPOT_BASE_URL": handle.url,
            "HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HUBSPOT_RATE_LIMIT_PER_10S": "10000",
            "HUBSPOT_SEARCH_RATE_PER_S": "1000"})
    finally:
        done.set()
        thread.join()
        killer.dispose()
    line = one_line(result)
    assert "the connection to the database" in line and "was lost mid-run" in line


def test_debug_adds_the_traceback() -> None:
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/connector"}
    result = CliRunner().invoke(cli, ["--debug", "events", "list"], env=env)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot reach the database")


# -- HubSpot -----------------------------------------------------------------------------


def hubspot_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "HUBSPOT_BASE_URL": base_url,
            "HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HUBSPOT_RATE_LIMIT_PER_10S": "10000",
            "HUBSPOT_SEARCH_RATE_PER_S": "1000"}


def migrated(env: dict[str, str]) -> dict[str, str]:
    upgrade(env["DATABASE_URL"])  # so that stderr holds nothing but the failure
    return env


@pytest.mark.parametrize("args", HUBSPOT_COMMANDS, ids=lambda a: " ".join(a))
def test_hubspot_unreachable_is_one_line(args: list[str], tmp_path: Path,
                                         fast_retries: None) -> None:
    line = one_line(run(args, migrated(hubspot_env(tmp_path, "http://127.0.0.1:1"))))
    assert re.fullmatch(r"error: cannot reach HubSpot at http://127\.0\.0\.1:1: connection "
                        r"refused after 6 tries( over \d+ s)?", line), line


def test_hubspot_host_that_does_not_resolve_is_one_line(tmp_path: Path,
                                                       fast_retries: None) -> None:
    line = one_line(run(["score", "1"],
                        migrated(hubspot_env(tmp_path, "http://no-such-host.invalid"))))
    assert line.startswith("error: cannot reach HubSpot at http://no-such-host.invalid: "
                           "its host name does not resolve (DNS)")


@pytest.mark.parametrize("args", HUBSPOT_COMMANDS, ids=lambda a: " ".join(a))
def test_hubspot_5xx_until_the_retries_give_up_is_one_line(
    args: list[str], sandbox: SandboxHandle, tmp_path: Path, fast_retries: None,
) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    line = one_line(run(args, migrated(hubspot_env(tmp_path, sandbox.url))))
    assert line.startswith("error: HubSpot answered 503 SERVICE_UNAVAILABLE after 6 tries")
    assert ": HTTP 503 (sandbox fault) (correlationId " in line


@pytest.mark.parametrize("args", HUBSPOT_COMMANDS, ids=lambda a: " ".join(a))
def test_429s_exhausting_the_retries_are_one_line_and_the_wait_is_shown(
    args: list[str], sandbox: SandboxHandle, tmp_path: Path, fast_retries: None,
) -> None:
    requests.post(f"{sandbox.url}/_sandbox/faults", json={"rate_limit_burst": 1000},
                  timeout=5)
    result = run(args, migrated(hubspot_env(tmp_path, sandbox.url)))
    assert result.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: HubSpot kept answering 429 (TEN_SECONDLY_ROLLING rate limit) "
                           "after 6 tries over 50 s: You have reached your ten_secondly_rolling "
                           "limit. (correlationId ")
    assert "Traceback" not in result.output
    if args[0] == "sync":  # the sync's progress says it waits, and for how long
        assert ("waiting 10 s: HubSpot's rate limit answered 429 TEN_SECONDLY_ROLLING, then "
                "trying again") in result.stderr


def test_a_short_429_burst_is_waited_out_and_shown(sync_setup, tmp_path: Path,
                                                   fast_retries: None) -> None:
    handle, _runtime = sync_setup()
    requests.post(f"{handle.url}/_sandbox/faults", json={"rate_limit_burst": 2}, timeout=5)
    result = run(["sync", "--full"], migrated(hubspot_env(tmp_path, handle.url)))
    assert result.exit_code == 0, result.output
    assert "50 contacts read" in result.stdout
    assert result.stderr.count("waiting 10 s: HubSpot's rate limit answered 429") == 2


# -- the web process -------------------------------------------------------------------


@pytest.mark.postgres
def test_readyz_tells_not_migrated_from_unreachable(settings: Settings,
                                                    empty_pg_url: str) -> None:
    not_migrated = dataclasses.replace(settings, database_url=empty_pg_url)
    answer = create_app(runtime=Runtime(not_migrated)).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["database"] == "not migrated"
    assert "run `connector db upgrade`" in answer.json["reason"]
    down = dataclasses.replace(settings,
                               database_url="postgresql+psycopg://postgres@127.0.0.1:1/x")
    answer = create_app(runtime=Runtime(down)).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["database"] == "unreachable"
    assert answer.json["reason"].startswith("database unreachable: cannot reach the database")
    assert "db upgrade" not in answer.json["reason"]


@pytest.mark.postgres
def test_readyz_on_tables_dropped_under_it_says_not_migrated(settings: Settings,
                                                             empty_pg_url: str) -> None:
    upgrade(empty_pg_url)
    runtime = Runtime(dataclasses.replace(settings, database_url=empty_pg_url))
    client = create_app(runtime=runtime).test_client()
    assert client.get("/readyz").status_code == 200
    with runtime.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP TABLE sync_cursor"))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["database"] == "not migrated"


@pytest.mark.postgres
def test_the_web_process_refuses_an_unmigrated_database_in_one_line(
    settings: Settings, empty_pg_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        wiring.create_app(dataclasses.replace(settings, database_url=empty_pg_url))
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the database ")
    assert err[0].endswith("is not migrated (no connector tables): run `connector db upgrade`")
    upgrade(empty_pg_url)
    assert wiring.create_app(dataclasses.replace(settings, database_url=empty_pg_url))


def test_the_web_process_starts_while_the_database_is_down(settings: Settings) -> None:
    down = dataclasses.replace(settings, database_url="postgresql+psycopg://u@127.0.0.1:1/x")
    app = wiring.create_app(down)  # webhooks answer 503 and /readyz says why until it is back
    assert app.test_client().get("/readyz").json["database"] == "unreachable"


def test_clock_pass_failures_are_one_log_line(settings: Settings,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from connector.worker import clock

    down = Runtime(dataclasses.replace(settings,
                                       database_url="postgresql+psycopg://u@127.0.0.1:1/x"))
    started = time.monotonic()
    assert clock.run_pass(down, "incremental") is None
    assert time.monotonic() - started < 10
    [record] = [r for r in caplog.records if r.name == "connector.worker.clock"]
    assert record.getMessage().startswith("incremental sync failed: cannot reach the database")
    assert record.exc_info is None



@pytest.mark.postgres
def test_the_procfiles_web_alone_stops_on_an_unmigrated_database_in_one_line(
    empty_pg_url: str, tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parent.parent
    [web] = [line.split(":", 1)[1] for line in (root / "Procfile").read_text().splitlines()
             if line.startswith("web:")]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": empty_pg_url, "HUBSPOT_CLIENT_SECRET": "secret",
           "PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(["sh", "-c", web], env=env, cwd=root, capture_output=True,
                          text=True, timeout=60)  # gunicorn used to restart its workers for ever
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert errors[0].endswith("is not migrated (no connector tables): run "
                              "`connector db upgrade`")
    assert "Traceback" not in done.stderr
