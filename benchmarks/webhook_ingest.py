"""Webhook ingest: gunicorn (2 workers) on PostgreSQL, signed batches of 100, concurrent client.

Prints events/s acknowledged, p50/p99 acknowledgement latency and events lost (acknowledged but
not in the inbox: must be 0), as one JSON line at the end. Target: >= 20,000 events/s with
p99 < 100 ms. Usage:

    python benchmarks/webhook_ingest.py [--seconds 30] [--clients 8] [--client-processes 2]
        [--worker-class gevent|gthread|sync] [--threads 4] [--pre-ping] [--database-url URL]

The client runs in its own processes (keep-alive connections, hand-formatted bodies) and reports
its CPU time, since on a small machine it shares the cores with gunicorn and PostgreSQL.

The database URL names a PostgreSQL server where a scratch database is created and dropped
(default: $CONNECTOR_TEST_DATABASE_URL or a local PostgreSQL on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import DEFAULT_DATABASE_URL, procfile_web, scratch_database  # noqa: E402

from connector.db.models import InboxEvent  # noqa: E402
from connector.web.signatures import sign_v3  # noqa: E402

SECRET = "bench-secret"


# one event, formatted by hand: json.dumps for every batch would make the client the bottleneck
EVENT = ('{{"eventId":{n},"subscriptionId":1,"portalId":62515,"appId":1,"occurredAt":{now},'
         '"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":{obj},'
         '"propertyName":"hs_feedback_last_nps_rating","propertyValue":"9","changeSource":"CRM"}}')


def make_batch(first: int, size: int, step: int = 1) -> bytes:
    """A delivery of `size` distinct events with ids first, first + step, ..."""
    now = int(time.time() * 1000)
    return ("[" + ",".join(EVENT.format(n=n, now=now, obj=1_000_000 + n % 50_000)
                           for n in range(first, first + size * step, step)) + "]").encode()


def client(port: int, path: str, url: str, stop_at: float, ids: Iterator[int], batch: int,
           latencies: list[float], acked: list[int], errors: list[int]) -> None:
    """One keep-alive connection posting signed batches until stop_at."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < stop_at:
        body = make_batch(next(ids), batch)
        ts = int(time.time() * 1000)
        headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(ts),
                   "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", url, body, ts)}
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors.append(1)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
        if response.status == 204:
            acked.append(batch)
        else:
            errors.append(response.status)
    conn.close()


def client_process(index: int, processes: int, threads: int, port: int, stop_at: float,
                   batch: int, results: Any) -> None:
    """A client process with its own interpreter (so the client is not one GIL): threads of
    keep-alive connections; reports latencies, acknowledged events, errors and its CPU time."""
    path = "/webhooks/hubspot"
    url = f"http://127.0.0.1:{port}{path}"
    # batch ids interleaved across processes so no two batches share an event
    counter = itertools.count(index * batch + 1, processes * batch)
    lock = threading.Lock()

    def ids() -> Iterator[int]:
        while True:
            with lock:
                value = next(counter)
            yield value

    latencies: list[float] = []
    acked: list[int] = []
    errors: list[int] = []
    workers = [threading.Thread(target=client, args=(port, path, url, stop_at, ids(), batch,
                                                     latencies, acked, errors))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put((latencies, sum(acked), len(errors), usage.ru_utime + usage.ru_stime))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8,
                        help="concurrent connections in all (split across client processes)")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gevent", choices=("gevent", "gthread", "sync"),
                        help="gunicorn worker class (the Procfile's web uses gevent)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker, for the gthread worker class")
    parser.add_argument("--pre-ping", action="store_true",
                        help="ping pooled connections on checkout (the Procfile's web does not)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()

    with scratch_database(args.database_url) as (url, engine), procfile_web(
            url, SECRET, workers=args.workers, worker_class=args.worker_class,
            threads=args.threads, pre_ping=args.pre_ping) as base:
        port = int(base.rsplit(":", 1)[1])
        results: Any = multiprocessing.get_context("fork").Queue()
        per_process = max(1, args.clients // args.client_processes)
        started = time.monotonic()
        stop_at = started + args.seconds
        processes = [
            multiprocessing.get_context("fork").Process(
                target=client_process,
                args=(i, args.client_processes, per_process, port, stop_at, args.batch,
                      results))
            for i in range(args.client_processes)
        ]
        for process in processes:
            process.start()
        latencies: list[float] = []
        acknowledged = errors = 0
        client_cpu = 0.0
        for _ in processes:
            part, acked, failed, cpu = results.get(timeout=args.seconds + 60)
            latencies.extend(part)
            acknowledged += acked
            errors += failed
            client_cpu += cpu
        for process in processes:
            process.join()
        elapsed = time.monotonic() - started
        with engine.connect() as conn:
            stored = int(conn.scalar(select(func.count()).select_from(InboxEvent)) or 0)
    latencies.sort()
    result = {
        "benchmark": "webhook_ingest", "seconds": round(elapsed, 1), "gunicorn_workers":
        args.workers, "worker_class": args.worker_class,
        "threads": args.threads if args.worker_class == "gthread" else None,
        "pre_ping": args.pre_ping,
        "clients": args.clients, "batch": args.batch,
        "events_acknowledged": acknowledged,
        "events_per_s": round(acknowledged / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "errors": errors, "events_stored": stored,
        "client_processes": args.client_processes,
        "client_cpu_s": round(client_cpu, 1),
        "client_cpu_share": round(client_cpu / (elapsed * (os.cpu_count() or 1)), 2),
        "events_lost": max(acknowledged - stored, 0),
        "target": {"events_per_s": 20_000, "p99_ms": 100},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
