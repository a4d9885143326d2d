"""Gunicorn's settings for the Procfile's `web` (`--config python:connector.cli.gunicorn_config`):
Prometheus' multiprocess mode, so /metrics answers the same whichever worker serves the scrape,
and the web's checks (client secret, database migrated) once in the master: a failed check is
one line and exit 2, where failing workers would be restarted by gunicorn for ever.

prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, so it is set here,
in the master, before any worker starts (and before anything imports prometheus-client); each
worker writes its values to files there and /metrics sums them. Nothing else is set here: the
Procfile's command line keeps the bind, workers and worker class.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

if not os.environ.get(MULTIPROC_ENV):
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="connector-metrics-")


def on_starting(server: Any) -> None:
    """Before the first worker: forget the metrics files of an earlier run (their counts are
    not ours), then check that the web can serve."""
    for stale in Path(os.environ[MULTIPROC_ENV]).glob("*.db"):
        stale.unlink()
    from connector.cli.preflight import check_web
    from connector.config import Settings
    from connector.errors import UserError

    try:
        check_web(Settings.from_env())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges stop counting (its counters keep their totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
