"""The share link `GET /r/<code>` under load, on PostgreSQL, with HubSpot down.

Runs the Procfile's web process (gunicorn, 2 gevent workers, no pre-ping; `--worker-class
gthread` for 2 x 4 threads) on a fresh PostgreSQL database holding `--advocates` advocates
with codes, HUBSPOT_BASE_URL pointed at a port where nothing answers, behind one trusted proxy
(TRUSTED_PROXY_HOPS=1, so X-Forwarded-For names the visitor), and `--clients` keep-alive
clients (threads spread over processes) clicking: mostly people with a browser user agent
from many addresses (each a new unique click: one INSERT), some link previewers and some
unknown codes. Every answer must be a 302 to the landing page with the right code.

Clicks arrive as people click: at `--rate` per second in all (open loop; each latency is
counted from the moment the click was due, so a slow answer delays nothing unmeasured), or
with `--rate 0` as fast as the clients can send (closed loop: the saturation throughput,
where latency is mostly the queue). Prints p50/p99 against the target (p99 < 50 ms) as one
JSON line, and how many clicks were stored. Usage:

    python benchmarks/share_link_latency.py [--advocates 5000] [--requests 6000] [--clients 20]
                                            [--rate 200] [--worker-class gevent]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import time
from typing import Any

from scratch import (
    add_load_options,
    p50_p99,
    procfile_web,
    run_client_processes,
    run_client_threads,
    scratch_database,
)
from sqlalchemy import func, insert, select

from connector.db.models import ContactState, ShareClick
from connector.program.codes import new_code

SECRET = "bench-secret"
TARGET_P99_S = 0.050
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
]
PREVIEWERS = ["Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
              "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
              "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)"]


def client_process(port: int, codes: list[str], seeds: list[int], per_client: int,
                   interval_s: float, results: Any) -> None:
    """Some of the concurrent clients, as threads of one process; reports their latencies."""

    def client(seed: int) -> tuple[list[float], int]:
        rng = random.Random(seed)
        # a bare keep-alive connection: `requests` would add about a millisecond per call
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        mine: list[float] = []
        bad = 0
        due = time.perf_counter() + rng.random() * interval_s  # clients out of step
        for _ in range(per_client):
            roll = rng.random()
            code = rng.choice(codes) if roll < 0.95 else "ZZZZ" + new_code()[:4]
            agent = rng.choice(PREVIEWERS if roll > 0.85 else BROWSERS)
            # X-Forwarded-For: ProxyFix trusts one hop, as behind the platform's router
            address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if interval_s:
                time.sleep(max(0.0, due - time.perf_counter()))
                started = due
                due += interval_s
            else:
                started = time.perf_counter()
            connection.request("GET", f"/r/{code.lower()}", headers={
                "User-Agent": agent, "X-Forwarded-For": address})
            answer = connection.getresponse()
            answer.read()
            mine.append(time.perf_counter() - started)
            location = answer.getheader("Location") or ""
            expected = (f"referred_by_code={code}" in location) == (roll < 0.95)
            bad += answer.status != 302 or not expected
        return mine, bad

    run_client_threads(seeds, client, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--advocates", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=200.0,
                        help="clicks per second in all; 0: as fast as possible")
    add_load_options(parser)
    args = parser.parse_args()

    # HubSpot is down: nothing answers there, and the share link must not care; the web
    # process stands behind one proxy (the platform's router), whose X-Forwarded-For it trusts
    os.environ.update(HUBSPOT_BASE_URL="http://127.0.0.1:9", HUBSPOT_ACCESS_TOKEN="unused",
                      TRUSTED_PROXY_HOPS="1")
    with scratch_database(args.database_url) as (url, engine):
        codes = list(dict.fromkeys(new_code() for _ in range(args.advocates)))
        with engine.begin() as conn:
            conn.execute(insert(ContactState), [
                {"contact_id": str(1000 + i), "referral_code": code, "journey_state": "invited",
                 "written": {}, "invitations_sent": 1, "reminders_sent": 0}
                for i, code in enumerate(codes)])
        with procfile_web(url, SECRET, worker_class=args.worker_class) as base:
            port = int(base.rsplit(":", 1)[1])
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for _ in range(8):  # warm the pools of both gunicorn workers
                probe.request("HEAD", f"/r/{codes[0]}")
                probe.getresponse().read()
            per_client = args.requests // args.clients
            # client threads spread over processes: one interpreter's GIL would queue the
            # clients themselves and count that wait as the endpoint's latency
            interval_s = args.clients / args.rate if args.rate else 0.0
            latencies, errors, elapsed = run_client_processes(
                client_process, lambda group: (port, codes, group, per_client, interval_s),
                clients=args.clients, processes=args.client_processes)
        with engine.connect() as conn:
            stored = dict(conn.execute(select(ShareClick.outcome, func.count())
                                       .group_by(ShareClick.outcome)).all())
    p50, p99 = p50_p99(latencies)
    print(json.dumps({
        "requests": len(latencies), "clients": args.clients, "rate": args.rate or "max",
        "worker_class": args.worker_class, "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "clicks_stored": {str(k): int(v) for k, v in stored.items()},
        "p50_ms": round(p50 * 1000, 1), "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "target_p99_ms": TARGET_P99_S * 1000, "p99_ratio_to_target": round(p99 / TARGET_P99_S, 3),
        "load_average": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
