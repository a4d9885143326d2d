"""Metrics and figures that tell the truth: /metrics the same whichever gunicorn worker answers,
the worker's and the clock's own metrics ports, every process's HubSpot calls in the report,
excluded contacts counted as contacts, and one convention for every --json."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from fixtures_sync import SyncSetup
from fixtures_webhooks import contact_event

from connector.cli import cli
from connector.cli.output import JSON_HELP
from connector.db.migrate import upgrade
from connector.db.session import make_engine
from connector.queue.inbox import store_events
from connector.scoring.model import ReadinessScore
from connector.sync.summary import SyncSummary
from connector.web.deliveries import parse_hubspot_events

ROOT = Path(__file__).resolve().parent.parent
HONCHO = Path(sys.executable).parent / "honcho"


def free_port_base() -> int:
    """A port P with P, P+100 and P+200 free (honcho gives each process its own)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + 200 > 65535:
            continue
        try:
            for port in (base, base + 100, base + 200):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports")


def metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.MULTILINE)
    found = pattern.search(text)
    return float(found.group(1)) if found else None


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


@pytest.fixture
def procfile(sync_setup: SyncSetup, tmp_path: Path) -> Iterator[tuple[int, Path, object]]:
    """`honcho start web clock worker` after `connector db upgrade`, as the README says."""
    handle, _runtime = sync_setup()
    database_url = f"sqlite:///{tmp_path / 'procfile.db'}"
    upgrade(database_url)
    base = free_port_base()
    env = {**os.environ, "DATABASE_URL": database_url, "HUBSPOT_BASE_URL": handle.url,
           "HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HUBSPOT_CLIENT_SECRET": "procfile-secret",
           "HUBSPOT_RATE_LIMIT_PER_10S": "10000", "HUBSPOT_SEARCH_RATE_PER_S": "1000",
           "LOG_FORMAT": "json", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("METRICS_PORT", None)
    log = (tmp_path / "honcho.log").open("wb")
    honcho = subprocess.Popen(
        [str(HONCHO), "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "start", "-p", str(base),
         "web", "clock", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        for port in (base, base + 100, base + 200):
            wait_http(f"http://127.0.0.1:{port}/metrics")
        yield base, tmp_path / "honcho.log", handle
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
        log.close()


@pytest.mark.slow
def test_under_the_procfile_every_scrape_agrees_and_the_worker_and_clock_are_scrapeable(
    procfile: tuple[int, Path, object], tmp_path: Path,
) -> None:
    base, log, handle = procfile
    web = f"http://127.0.0.1:{base}"
    for _ in range(40):  # one connection each: gunicorn's two workers share them
        answer = requests.post(f"{web}/webhooks/hubspot", data=b"[]",
                               headers={"Connection": "close"}, timeout=10)
        assert answer.status_code == 401
    scrapes = [requests.get(f"{web}/metrics", headers={"Connection": "close"}, timeout=10).text
               for _ in range(10)]
    counts = {metric(text, "connector_webhook_events_total", '{outcome="rejected_signature"}')
              for text in scrapes}
    assert counts == {40.0}, f"scrapes disagree: {counts}\n{log.read_text()[-3000:]}"
    # the worker handles webhook events and its own port shows what it wrote to HubSpot
    contacts = [int(c.id) for c in handle.portal.live_contacts()][:5]
    engine = make_engine(f"sqlite:///{tmp_path / 'procfile.db'}")
    for contact_id in contacts:
        handle.portal.update_contact(str(contact_id), {"hs_feedback_last_nps_rating": "0"},
                                     source="CRM_UI")
    store_events(engine, parse_hubspot_events(json.dumps(
        [contact_event(i, event_id=900 + i) for i in contacts]).encode()))
    engine.dispose()
    worker = f"http://127.0.0.1:{base + 200}/metrics"
    deadline = time.monotonic() + 30
    while (metric(requests.get(worker, timeout=5).text, "connector_properties_written_total")
           or 0) <= 0:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    clock = requests.get(f"http://127.0.0.1:{base + 100}/metrics", timeout=5).text
    deadline = time.monotonic() + 30
    while metric(clock, "connector_sync_duration_seconds_count", '{mode="full"}') is None:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
        clock = requests.get(f"http://127.0.0.1:{base + 100}/metrics", timeout=5).text


def test_the_report_counts_the_workers_hubspot_calls(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup()
    contacts = [int(c.id) for c in handle.portal.live_contacts()][:3]
    store_events(runtime.engine, parse_hubspot_events(json.dumps(
        [contact_event(i) for i in contacts]).encode()))
    env = {"DATABASE_URL": str(runtime.engine.url), "HUBSPOT_BASE_URL": handle.url,
           "HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HUBSPOT_RATE_LIMIT_PER_10S": "10000",
           "LOG_FORMAT": "text"}
    assert CliRunner().invoke(cli, ["worker", "--once"], env=env).exit_code == 0
    calls = handle.stats()["status"]
    made = sum(calls.values())
    assert made >= 2  # a batch read and a batch update at least
    report = CliRunner().invoke(cli, ["report", "--json"], env=env)
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["connector"]["api_last_24h"]["calls"] == made


def test_metrics_port_must_be_a_port(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["clock"], env={"DATABASE_URL": sqlite_url,
                                                    "METRICS_PORT": "99999"})
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: METRICS_PORT=99999 is not a TCP port; set it to " \
                                    "e.g. 9100"


def test_a_metrics_port_in_use_is_one_line(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - what the metrics server would bind
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["clock"], env={"DATABASE_URL": sqlite_url,
                                                        "METRICS_PORT": str(port)})
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        f"error: METRICS_PORT={port}: the clock's metrics cannot listen there")


def test_excluded_counts_contacts_and_names_their_reasons() -> None:
    summary = SyncSummary()
    for guardrails in (["recent_detractor", "no_consent"], ["no_consent"], []):
        summary.count_score(ReadinessScore(score=10, tier="excluded" if guardrails else "ready",
                                           reasons="", guardrails=guardrails))
    [line] = [line for line in summary.lines() if line.startswith("excluded")]
    assert line == ("excluded: 2 contacts; guardrails met (a contact may meet several): "
                    "no_consent 2, recent_detractor 1")
    assert summary.as_dict()["excluded_contacts"] == 2


JSON_COMMANDS = [["events", "list", "--json"], ["rewards", "list", "--json"],
                 ["audit", "7", "--json"], ["report", "--json"]]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda a: " ".join(a[:-1]))
def test_every_json_option_prints_one_document_as_its_help_says(args: list[str],
                                                                 sqlite_url: str) -> None:
    runner = CliRunner()
    command_help = runner.invoke(cli, [*args[:-1], "--help"]).output
    assert " ".join(JSON_HELP.split()) in " ".join(command_help.split())
    result = runner.invoke(cli, args, env={"DATABASE_URL": sqlite_url})
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # one document: a second one would not parse
    assert isinstance(document, list if "list" in args else dict)


def test_the_json_convention_is_named_in_the_groups_help() -> None:
    text = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    assert ("Every --json prints one JSON document on stdout: an object, or an array for a "
            "list.") in text
