"""`connector sync [--full] [--dry-run]` and `connector clock`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from connector.cli.wiring import build_runtime
from connector.sync.passes import Progress, run_sync
from connector.sync.summary import SyncSummary
from connector.worker.clock import build_scheduler

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0  # progress lines when stdout is not a terminal


@contextmanager
def _progress() -> Iterator[Progress]:
    """A live bar on a terminal; otherwise a log line every few seconds."""
    if sys.stdout.isatty():
        from rich.progress import Progress as Bar
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        with Bar(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                 transient=True) as bar:
            task = bar.add_task("reading contacts", total=None)

            def update(summary: SyncSummary) -> None:
                bar.update(task, description=(
                    f"{summary.read} contacts read, {summary.changed} changed, "
                    f"{summary.written} written"))

            yield update
        return
    last = [time.monotonic()]

    def log_line(summary: SyncSummary) -> None:
        if time.monotonic() - last[0] >= LOG_EVERY_S:
            last[0] = time.monotonic()
            log.info("sync progress: %d contacts read, %d changed, %d written",
                     summary.read, summary.changed, summary.written)

    yield log_line


@click.command()
@click.option("--full", is_flag=True, help="Read every contact, not only the recently modified.")
@click.option("--dry-run", is_flag=True, help="Write nothing; show what would change.")
def sync(full: bool, dry_run: bool) -> None:
    """Score contacts and write the changed readiness and referral properties to HubSpot."""
    runtime = build_runtime()
    with _progress() as progress:
        summary = run_sync(runtime, full=full, dry_run=dry_run, progress=progress)
    for line in summary.lines():
        click.echo(line)
    if dry_run and summary.sample:
        click.echo(f"sample of {len(summary.sample)} of {summary.changed} contacts that would "
                   "change ({property: [before, after]}):")
        for diff in summary.sample:
            click.echo(f"  {diff['contact_id']}: {json.dumps(diff['changes'])}")


@click.command()
def clock() -> None:
    """Run the scheduled sync passes (one clock per deployment; a second one only skips)."""
    runtime = build_runtime()
    scheduler = build_scheduler(runtime, blocking=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("clock stopping (signal %d)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("clock started: incremental sync every %d minutes, full sync daily",
             runtime.settings.sync_interval_minutes)
    try:
        scheduler.start()
    except KeyboardInterrupt:
        scheduler.shutdown(wait=False)
