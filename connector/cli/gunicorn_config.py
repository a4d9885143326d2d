"""Gunicorn's settings for the Procfile's `web` (`--config python:connector.cli.gunicorn_config`):
Prometheus' multiprocess mode, so /metrics answers the same whichever worker serves the scrape.

prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, so it is set here,
in the master, before any worker starts (and before anything imports prometheus-client); each
worker writes its values to files there and /metrics sums them. Nothing else is set here: the
Procfile's command line keeps the bind, workers and worker class.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

if not os.environ.get(MULTIPROC_ENV):
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="connector-metrics-")


def on_starting(server: Any) -> None:
    """Before the first worker: forget the files of an earlier run (their counts are not ours)."""
    for stale in Path(os.environ[MULTIPROC_ENV]).glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges stop counting (its counters keep their totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
