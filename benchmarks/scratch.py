"""What the PostgreSQL benchmarks share: a scratch database with the connector's tables, and
the Procfile's web process (gunicorn serving `connector.cli.wiring:create_app()`) on it."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.config import normalise_database_url  # noqa: E402
from connector.db.models import Base  # noqa: E402
from connector.db.session import make_engine  # noqa: E402

DEFAULT_DATABASE_URL = os.environ.get(
    "CONNECTOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float = 30) -> None:
    """Until the URL answers at all; one line and exit when it does not in time."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer") from None
            time.sleep(0.1)


@contextmanager
def scratch_database(database_url: str) -> Iterator[tuple[str, Engine]]:
    """A new database beside `database_url`'s with the connector's tables; dropped after."""
    admin_url = normalise_database_url(database_url)
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"connector_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def procfile_web(database_url: str, client_secret: str, *, workers: int = 2,
                 worker_class: str = "gevent", threads: int = 4,
                 pre_ping: bool = False) -> Iterator[str]:
    """gunicorn serving the web app on a free port as the Procfile's web line does (gevent
    workers; `worker_class="gthread"` with `threads` to compare); its base URL."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, HUBSPOT_CLIENT_SECRET=client_secret,
               LOG_FORMAT="json", CONNECTOR_DB_PRE_PING="1" if pre_ping else "0")
    env.pop("CONNECTOR_PUBLIC_URL", None)
    if worker_class == "gthread":
        chosen = ["--worker-class", "gthread", "--threads", str(threads)]
    elif worker_class == "gevent":
        chosen = ["--worker-class", "gevent", "--worker-connections", "1000"]
    else:
        chosen = ["--worker-class", worker_class]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), *chosen,
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "connector.cli.wiring:create_app()"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_client_threads(seeds: list[int], client: Callable[[int], tuple[list[float], int]],
                       results: Any) -> None:
    """Some of a benchmark's concurrent clients, as threads of one process: each runs
    `client(seed) -> (latencies, failures)`; the process reports their sum to `results`."""
    latencies: list[float] = []
    failed = 0
    lock = threading.Lock()

    def run(seed: int) -> None:
        nonlocal failed
        mine, bad = client(seed)
        with lock:
            latencies.extend(mine)
            failed += bad

    threads = [threading.Thread(target=run, args=(seed,)) for seed in seeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, failed))


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """The options every load benchmark of the web process takes."""
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--worker-class", default="gevent", choices=("gevent", "gthread"),
                        help="gunicorn worker class (the Procfile's web uses gevent)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)


def run_client_processes(target: Callable[..., None],
                         arguments: Callable[[list[int]], tuple[Any, ...]], *, clients: int,
                         processes: int) -> tuple[list[float], int, float]:
    """`clients` client threads spread over `processes` processes (one interpreter's GIL would
    queue the clients themselves and count that wait as the endpoint's latency). Each process
    runs `target(*arguments(its seeds), results)`; returns latencies, failures and seconds."""
    context = multiprocessing.get_context("fork")
    results: Any = context.Queue()
    groups = [list(range(i, clients, processes)) for i in range(processes)]
    started_processes = [context.Process(target=target, args=(*arguments(group), results))
                         for group in groups if group]
    latencies: list[float] = []
    failed = 0
    started = time.monotonic()
    for process in started_processes:
        process.start()
    for _ in started_processes:
        part, bad = results.get(timeout=600)
        latencies.extend(part)
        failed += bad
    for process in started_processes:
        process.join()
    return latencies, failed, time.monotonic() - started


def p50_p99(latencies: list[float]) -> tuple[float, float]:
    """The median and the 99th percentile of some latencies, in seconds."""
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
