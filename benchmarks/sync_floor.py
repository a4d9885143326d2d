"""A full sync against the sandbox, measured against its physical floor.

Starts a sandbox HubSpot in a subprocess (so its CPU does not compete with the sync for the
GIL), a fresh SQLite database (or DATABASE_URL), runs one full sync and a second one, and
prints one JSON line:

  contacts, api_calls, floor_calls, calls_ratio, wall_s, floor_s, wall_ratio, peak_rss_mb,
  second_sync_writes

The floor: ceil(N/200) search pages plus ceil(changed/100) batch updates, and the time those
calls need at the configured rates; reads and writes use separate budgets, so
floor_s = max(search pages / search rate, updates / (burst / 10)). Limits may be scaled up
to keep a run short: the ratios are what count.

    python benchmarks/sync_floor.py --contacts 10000 --rate-limit-per-10s 1000 \
        --search-rate-per-s 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "sandbox-token"


def serve_sandbox(contacts: int, burst: int, search_rate: float) -> None:
    """Child process: run a seeded sandbox with the connector's properties, print its URL."""
    from connector.hubspot.schema import load_property_schema
    from connector.sandbox.server import SandboxConfig, run_in_thread

    handle = run_in_thread(SandboxConfig(
        contacts=contacts, rate_limit_per_10s=burst, search_rate_per_s=search_rate,
        daily_limit=100_000_000, search_lag_s=0.0))
    schema = load_property_schema(ROOT / "mappings" / "properties.yaml")
    portal = handle.portal
    with portal.lock:
        portal.groups[schema.group_name] = {"name": schema.group_name,
                                            "label": schema.group_label,
                                            "displayOrder": 99, "archived": False}
        for definition in schema.definitions.values():
            portal.create_property(definition.to_hubspot(schema.group_name))
    print(handle.url, flush=True)
    sys.stdin.read()  # run until the parent closes our stdin
    handle.stop()


def _stats(url: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/_sandbox/stats", timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def _calls(stats: dict[str, Any]) -> int:
    return sum(n for route, n in stats["requests"].items() if not route.endswith("/stats")
               and "/_sandbox/" not in route)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the two syncs and compute the ratios."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-sandbox", "--contacts", str(args.contacts),
         "--rate-limit-per-10s", str(args.rate_limit_per_10s),
         "--search-rate-per-s", str(args.search_rate_per_s)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit("the sandbox did not start")
        return _run_syncs(args, url)
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)


def _run_syncs(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from connector.config import Settings
    from connector.db.migrate import upgrade
    from connector.runtime import Runtime
    from connector.sync import page
    from connector.sync.passes import run_sync

    if args.no_program:
        page.hooks.on_contact = lambda *a, **k: {}  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/connector.db"
        settings = Settings.from_env({
            **os.environ, "HUBSPOT_BASE_URL": url, "HUBSPOT_ACCESS_TOKEN": TOKEN,
            "DATABASE_URL": database_url,
            "HUBSPOT_RATE_LIMIT_PER_10S": str(args.rate_limit_per_10s),
            "HUBSPOT_SEARCH_RATE_PER_S": str(args.search_rate_per_s),
        })
        upgrade(settings.database_url)
        runtime = Runtime(settings)
        before = _stats(url)
        started = time.monotonic()
        first = run_sync(runtime, full=True)
        wall_s = time.monotonic() - started
        after_first = _stats(url)
        rss_after_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        first_audit_id = _last_audit_id(runtime)
        second = run_sync(runtime, full=True)
        after_second = _stats(url)
        second_changes = _changed_properties(runtime, first_audit_id)
    search_pages = math.ceil(args.contacts / 200)
    updates = math.ceil(first.changed / 100)
    floor_calls = search_pages + updates
    floor_s = max(search_pages / args.search_rate_per_s,
                  updates / (args.rate_limit_per_10s / 10))
    api_calls = _calls(after_first) - _calls(before)
    return {
        "contacts": args.contacts, "program": not args.no_program,
        "api_calls": api_calls, "floor_calls": floor_calls,
        "calls_ratio": round(api_calls / floor_calls, 3),
        "wall_s": round(wall_s, 2), "floor_s": round(floor_s, 2),
        "wall_ratio": round(wall_s / floor_s, 3) if floor_s else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_after_first_mb": round(rss_after_first, 1),
        "written": first.written, "rate_limited": first.rate_limited,
        "second_sync_writes": after_second["writes"] - after_first["writes"],
        "second_sync_changed": second.changed,
        # what moved between the two passes (time-dependent signals: recency decay)
        "second_sync_changed_properties": second_changes,
    }


def _last_audit_id(runtime: Any) -> int:
    from sqlalchemy import func, select

    from connector.db.models import AuditLog

    with runtime.sessions() as session:
        return int(session.scalar(select(func.max(AuditLog.id))) or 0)


def _changed_properties(runtime: Any, after_id: int) -> dict[str, int]:
    from collections import Counter

    from sqlalchemy import select

    from connector.db.models import AuditLog

    counts: Counter[str] = Counter()
    with runtime.sessions() as session:
        for changes in session.scalars(select(AuditLog.changes).where(AuditLog.id > after_id)):
            counts.update(changes.keys())
    return dict(counts)


def main() -> None:
    """Parse the options; run the sandbox child or the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate-limit-per-10s", type=int, default=100)
    parser.add_argument("--search-rate-per-s", type=float, default=4.0)
    parser.add_argument("--no-program", action="store_true",
                        help="Skip the referral program's per-contact hook (sync cost alone).")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.contacts, args.rate_limit_per_10s, args.search_rate_per_s)
        return
    print(json.dumps(measure(args)), flush=True)


if __name__ == "__main__":
    main()
