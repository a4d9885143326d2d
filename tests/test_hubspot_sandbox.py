"""The gateway driving the real SDK over real HTTP against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from hubspot.crm.contacts import ApiException
from sqlalchemy import Engine

from connector.config import PROJECT_ROOT, Settings
from connector.hubspot.client import HubSpotApis
from connector.hubspot.gateway import HubSpotGateway
from connector.hubspot.limiter import MemoryLimiter, budgets_from_settings
from connector.hubspot.retry import RetryPolicy
from connector.sandbox.server import SandboxConfig, SandboxHandle, run_in_thread

TOKEN = "sandbox-token"
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@pytest.fixture
def fast_sandbox() -> Iterator[SandboxHandle]:
    """An empty sandbox whose limits do not slow a functional test down."""
    handle = run_in_thread(SandboxConfig(contacts=0, rate_limit_per_10s=100_000,
                                         search_rate_per_s=10_000, access_token=TOKEN))
    yield handle
    handle.stop()


def _gateway(settings: Settings, url: str, sleeps: list[float] | None = None) -> HubSpotGateway:
    settings = replace(settings, hubspot_access_token=TOKEN, hubspot_base_url=url)
    sleep = sleeps.append if sleeps is not None else time.sleep
    return HubSpotGateway(HubSpotApis(settings), MemoryLimiter(budgets_from_settings(settings)),
                          policy=RetryPolicy(max_attempts=4, sleep=sleep))


def _seed(handle: SandboxHandle, stamps: list[int]) -> list[str]:
    rows = [{"email": f"advocate{n}@example.com", "firstname": f"A{n}",
             "createdate": _iso(BASE_MS - 1), "lastmodifieddate": _iso(ms)}
            for n, ms in enumerate(stamps)]
    return [str(i) for i in handle.portal.seed(rows)]


@pytest.mark.slow
def test_every_contact_once_in_both_modes_with_shared_timestamps(
    settings: Settings, fast_sandbox: SandboxHandle,
) -> None:
    # 25,000 contacts: 10,500 share one millisecond (a bulk import), 400 another
    stamps = ([BASE_MS + 1_000] * 10_500 + [BASE_MS + 2_000] * 400
              + [BASE_MS + 3_000 + n for n in range(14_100)])
    ids = _seed(fast_sandbox, stamps)
    gateway = _gateway(settings, fast_sandbox.url)

    by_id = [c.id for page in gateway.iter_contacts(["email"]) for c in page]
    assert len(by_id) == len(set(by_id)) == 25_000
    assert set(by_id) == set(ids)
    assert by_id == sorted(by_id, key=int)

    by_date: list[str] = []
    last_ms = 0
    for page in gateway.iter_contacts(["email"], modified_since_ms=BASE_MS):
        assert 0 < len(page) <= 200
        for contact in page:
            stamp = int(datetime.fromisoformat(
                contact.properties["lastmodifieddate"] or "").timestamp() * 1000)
            assert stamp >= last_ms
            last_ms = stamp
            by_date.append(contact.id)
    assert len(by_date) == len(set(by_date)) == 25_000
    stats = fast_sandbox.stats()
    assert stats["status"].get("400", 0) == 0  # never paged past the 10,000 cap


def test_modified_since_returns_only_later_contacts(settings: Settings,
                                                    fast_sandbox: SandboxHandle) -> None:
    ids = _seed(fast_sandbox, [BASE_MS + n * 1000 for n in range(300)])
    gateway = _gateway(settings, fast_sandbox.url)
    seen = [c.id for page in gateway.iter_contacts(["email"],
                                                   modified_since_ms=BASE_MS + 100_000)
            for c in page]
    assert seen == ids[100:]


def test_read_update_and_get_by_email(settings: Settings, fast_sandbox: SandboxHandle) -> None:
    ids = _seed(fast_sandbox, [BASE_MS] * 150)
    gateway = _gateway(settings, fast_sandbox.url)
    contacts = gateway.read_contacts([*ids, "999999999"], ["email", "firstname"])
    assert sorted(c.id for c in contacts) == sorted(ids)
    assert all(c.properties["email"] for c in contacts)

    found = gateway.get_contact("advocate3@example.com", ["firstname"])
    assert found is not None and found.id == ids[3] and found.properties["firstname"] == "A3"
    assert gateway.get_contact("nobody@example.com", ["firstname"]) is None

    updates = {cid: {"firstname": "Ready"} for cid in ids}
    updates[ids[42]] = {"hs_lead_status": "NOT_A_REAL_OPTION"}
    result = gateway.update_contacts(updates)
    assert ids[42] in result.errors
    assert sorted(result.updated) == sorted(cid for cid in ids if cid != ids[42])
    assert fast_sandbox.portal.get_contact(ids[0]).properties["firstname"] == "Ready"


def test_sandbox_429_burst_is_retried(settings: Settings, fast_sandbox: SandboxHandle) -> None:
    ids = _seed(fast_sandbox, [BASE_MS] * 3)
    requests.post(f"{fast_sandbox.url}/_sandbox/faults", json={"rate_limit_burst": 2}, timeout=5)
    sleeps: list[float] = []
    gateway = _gateway(settings, fast_sandbox.url, sleeps)
    assert len(gateway.read_contacts(ids, ["email"])) == 3
    assert sleeps == [10.0, 10.0]  # the sandbox's X-HubSpot-RateLimit-Interval-Milliseconds
    assert gateway.usage()["rate_limited"] == 2


def test_sandbox_503s_give_up_after_the_attempts(settings: Settings,
                                                 fast_sandbox: SandboxHandle) -> None:
    requests.post(f"{fast_sandbox.url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=5)
    sleeps: list[float] = []
    gateway = _gateway(settings, fast_sandbox.url, sleeps)
    with pytest.raises(ApiException) as raised:
        gateway.read_contacts(["1"], ["email"])
    assert raised.value.status == 503
    assert len(sleeps) == 3
    assert fast_sandbox.stats()["status"] == {"503": 4}


def test_enroll_through_api_request(settings: Settings, fast_sandbox: SandboxHandle) -> None:
    _seed(fast_sandbox, [BASE_MS])
    gateway = _gateway(settings, fast_sandbox.url)
    workflow = requests.post(
        f"{fast_sandbox.url}/automation/v4/flows", timeout=5,
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"type": "CONTACT_FLOW", "name": "Invite", "isEnabled": True},
    ).json()
    legacy = requests.post(
        f"{fast_sandbox.url}/automation/v4/workflow-id-mappings/batch/read", timeout=5,
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"inputs": [{"flowId": workflow["id"], "type": "FLOW_ID"}]},
    ).json()["results"][0]["workflowId"]
    gateway.enroll(str(legacy), "advocate0@example.com")
    enrolled = requests.get(f"{fast_sandbox.url}/_sandbox/enrollments", timeout=5).json()
    assert [(e["workflowId"], e["email"]) for e in enrolled] == [
        (str(legacy), "advocate0@example.com")]


SHARED_LIMIT = 20
CALLS_PER_PROCESS = 15

WORKER = """
import os, sys, time
from connector.config import Settings
from connector.db.session import make_engine
from connector.hubspot.gateway import build_gateway
settings = Settings.from_env()
gateway = build_gateway(settings, make_engine(settings.database_url))
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # start together
for _ in range(int(os.environ["CALLS"])):
    gateway.read_contacts(["1"], ["email"])
usage = gateway.usage()
print(usage["rate_limited"], usage["total"])
"""


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_share_the_budget_without_429(
    pg_engine: Engine, pg_database_url: str,
) -> None:
    handle = run_in_thread(SandboxConfig(contacts=1, rate_limit_per_10s=SHARED_LIMIT,
                                         access_token=TOKEN))
    try:
        env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": handle.url,
               "DATABASE_URL": pg_database_url, "CALLS": str(CALLS_PER_PROCESS),
               "HUBSPOT_RATE_LIMIT_PER_10S": str(SHARED_LIMIT)}
        workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=PROJECT_ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for _ in range(2)]
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=90)[0] for worker in workers]
        elapsed = time.monotonic() - started
        assert all(w.returncode == 0 for w in workers), outputs
        stats = handle.stats()
    finally:
        handle.stop()
    assert [line.split() for line in outputs] == [["0", str(CALLS_PER_PROCESS)]] * 2
    assert stats["status"] == {"200": 2 * CALLS_PER_PROCESS}  # no 429 at all
    assert elapsed >= 10.0  # 30 calls at 20 per 10 s: the second window had to be waited for


