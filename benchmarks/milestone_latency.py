"""Milestone latency: an NPS change in the sandbox until the new score is on the contact.

The sandbox sends its signed webhook to a running `connector serve`; a running `connector
worker` re-reads, re-scores and writes back. No sync runs. Prints p50/p99 seconds over N
changes as one JSON line at the end, with their ratios to the target (p50 < 0.3 s, p99 < 0.6 s
on PostgreSQL with the defaults; below 1 meets it). The floor is the sandbox's webhook batching
(`--webhook-interval`, 0.2 s) plus one batch read and one batch write to HubSpot. Usage:

    python benchmarks/milestone_latency.py [--changes 200] [--database-url URL]

Default database: a SQLite file in a temporary directory (the embedded setup, where the worker
polls its inbox every second). `--database-url` names a scratch PostgreSQL database: its tables
are dropped and created afresh; there the worker is woken by LISTEN/NOTIFY.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import free_port, wait_http  # noqa: E402

from connector.db.models import Base  # noqa: E402
from connector.db.session import make_engine  # noqa: E402
from connector.hubspot.schema import load_property_schema  # noqa: E402
from connector.sandbox.server import SandboxConfig, run_in_thread  # noqa: E402
from connector.scoring.engine import score_contact  # noqa: E402
from connector.scoring.mapping import load_mapping  # noqa: E402

SECRET = "bench-secret"
NPS = "hs_feedback_last_nps_rating"
TARGET_P50_S = 0.3
TARGET_P99_S = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate-limit", type=int, default=190,
                        help="HubSpot burst budget per 10 s (Professional/Enterprise: 190)")
    parser.add_argument("--webhook-interval", type=float, default=0.2,
                        help="How long the sandbox gathers events before a delivery (s)")
    parser.add_argument("--worker-idle-sleep", type=float, default=1.0,
                        help="The worker's sleep when idle (its default: 1 s)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="milestone-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'connector.db'}"
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    port = free_port()
    sandbox = run_in_thread(SandboxConfig(
        contacts=args.contacts, webhook_url=f"http://127.0.0.1:{port}/webhooks/hubspot",
        client_secret=SECRET, rate_limit_per_10s=max(args.rate_limit, 1000),
        search_rate_per_s=5.0, webhook_interval_s=args.webhook_interval))
    env = dict(os.environ, DATABASE_URL=database_url, HUBSPOT_CLIENT_SECRET=SECRET,
               HUBSPOT_BASE_URL=sandbox.url, HUBSPOT_ACCESS_TOKEN="sandbox-token",
               HUBSPOT_RATE_LIMIT_PER_10S=str(args.rate_limit), LOG_FORMAT="json")
    env.pop("CONNECTOR_PUBLIC_URL", None)
    connector = [sys.executable, "-m", "connector.cli"]
    processes: list[subprocess.Popen[bytes]] = []
    latencies: list[float] = []
    timeouts = 0
    try:
        subprocess.run([*connector, "install"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        log = open(workdir / "processes.log", "wb")  # noqa: SIM115 - closed with the processes
        processes.append(subprocess.Popen([*connector, "serve", "--port", str(port)], env=env,
                                          cwd=ROOT, stdout=log, stderr=log))
        worker = [*connector, "worker", "--idle-sleep", str(args.worker_idle_sleep)]
        processes.append(subprocess.Popen(worker, env=env, cwd=ROOT, stdout=log, stderr=log))
        wait_http(f"http://127.0.0.1:{port}/healthz")
        mapping = load_mapping(ROOT / "mappings" / "signals.yaml")
        score_name = load_property_schema(ROOT / "mappings" / "properties.yaml").name("score")
        contacts = [str(c.id) for c in sandbox.portal.live_contacts()]
        index = 0
        while len(latencies) + timeouts < args.changes:
            contact_id = contacts[index % len(contacts)]
            index += 1
            props = dict(sandbox.portal.get_contact(contact_id).properties)
            flipped = "0" if props.get(NPS) in ("9", "10") else "10"
            expected = str(score_contact({**props, NPS: flipped}, mapping,
                                         datetime.now(UTC)).score)
            if expected == props.get(score_name):
                continue  # this change would not move the score: nothing to wait for
            started = time.perf_counter()
            sandbox.portal.update_contact(contact_id, {NPS: flipped})
            while sandbox.portal.get_contact(contact_id).properties.get(score_name) != expected:
                if time.perf_counter() - started > 30:
                    timeouts += 1
                    break
                time.sleep(0.005)
            else:
                latencies.append(time.perf_counter() - started)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        sandbox.stop()
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else None
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)] if latencies else None
    result = {
        "benchmark": "milestone_latency", "changes": len(latencies), "timeouts": timeouts,
        "p50_s": round(p50, 3) if p50 is not None else None,
        "p99_s": round(p99, 3) if p99 is not None else None,
        "p50_ratio": round(p50 / TARGET_P50_S, 3) if p50 is not None else None,
        "p99_ratio": round(p99 / TARGET_P99_S, 3) if p99 is not None else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
        "webhook_interval_s": args.webhook_interval, "rate_limit_per_10s": args.rate_limit,
        "worker_idle_sleep_s": args.worker_idle_sleep,
        "database": database_url.split(":", 1)[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
