"""`connector sync [--full] [--dry-run]` and `connector clock`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click

from connector.cli.wiring import build_runtime, serve_metrics
from connector.hubspot.retry import RetryWait
from connector.sync.passes import run_sync
from connector.sync.summary import SyncSummary
from connector.worker.clock import build_scheduler

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0  # progress lines when stdout is not a terminal


def wait_text(wait: RetryWait) -> str:
    """A retry wait in words: the display would otherwise look stuck."""
    if wait.rate_limited:
        return (f"waiting {wait.seconds:.0f} s: HubSpot's rate limit answered {wait.reason}, "
                "then trying again")
    return f"waiting {wait.seconds:.1f} s: HubSpot failed ({wait.reason}), then trying again"


class Display:
    """The sync's progress: `display(summary)` after each page, `display.waiting(wait)` when a
    HubSpot call waits before its next try."""

    def __init__(self, show: Callable[[str], None], *, throttle_s: float) -> None:
        self._show = show
        self._throttle_s = throttle_s
        self._last = time.monotonic()

    def __call__(self, summary: SyncSummary) -> None:
        if time.monotonic() - self._last >= self._throttle_s:
            self._last = time.monotonic()
            self._show(f"{summary.read} contacts read, {summary.changed} changed, "
                       f"{summary.written} written")

    def waiting(self, wait: RetryWait) -> None:
        self._show(wait_text(wait))  # never throttled: this is the news


@contextmanager
def _progress() -> Iterator[Display]:
    """A live bar on a terminal; otherwise a log line every few seconds (and on every wait)."""
    if sys.stdout.isatty():
        from rich.progress import Progress as Bar
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        with Bar(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                 transient=True) as bar:
            task = bar.add_task("reading contacts", total=None)
            yield Display(lambda text: bar.update(task, description=text), throttle_s=0.0)
        return

    def log_line(text: str) -> None:
        log.info("sync progress: %s", text)

    yield Display(log_line, throttle_s=LOG_EVERY_S)


@click.command()
@click.option("--full", is_flag=True, help="Read every contact, not only the recently modified.")
@click.option("--dry-run", is_flag=True, help="Write nothing; show what would change.")
def sync(full: bool, dry_run: bool) -> None:
    """Score contacts and write the changed readiness and referral properties to HubSpot."""
    runtime = build_runtime()
    with _progress() as progress:
        runtime.gateway.policy.listeners.append(progress.waiting)
        try:
            summary = run_sync(runtime, full=full, dry_run=dry_run, progress=progress)
        finally:
            runtime.gateway.policy.listeners.remove(progress.waiting)
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
    runtime.engine  # noqa: B018 - an unmigrated or unreachable database stops it here, in one line
    serve_metrics(runtime.settings, "clock")
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
