"""`connector worker` (drain the inbox, flush the outbox) and `connector events list|replay`."""

from __future__ import annotations

from datetime import timedelta

import click

from connector.cli.output import JSON_HELP, print_rows
from connector.cli.wiring import build_runtime, serve_metrics
from connector.errors import UserError
from connector.logs import configure_logging
from connector.queue.inbox import list_events, replay
from connector.worker.drain import LEASE
from connector.worker.loop import WorkerOptions, run_worker


@click.command()
@click.option("--once", is_flag=True, help="Drain what is due, flush the outbox, and exit.")
@click.option("--with-clock", is_flag=True,
              help="Also run the clock's scheduled jobs in this process (single-process SQLite).")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--lease-seconds", type=click.IntRange(1), default=int(LEASE.total_seconds()),
              show_default=True,
              help="How long claimed events stay with this worker without a heartbeat (it renews "
                   "them while it works); a killed worker's events are retried after this.")
@click.option("--max-attempts", type=click.IntRange(1), default=8, show_default=True)
@click.option("--idle-sleep", type=click.FloatRange(0.01), default=1.0, show_default=True,
              help="Seconds to wait before looking again when nothing was due.")
def worker(once: bool, with_clock: bool, batch_size: int, lease_seconds: int,
           max_attempts: int, idle_sleep: float) -> None:
    """Handle webhook events from the inbox: re-score contacts, apply removals, send writes."""
    runtime = build_runtime()
    configure_logging(runtime.settings)
    runtime.engine  # noqa: B018 - an unmigrated or unreachable database stops it here, in one line
    if not once:
        serve_metrics(runtime.settings, "worker")
    if with_clock and runtime.on_postgres:
        click.echo("note: on PostgreSQL run `connector clock` as its own process instead", err=True)
    options = WorkerOptions(batch_size=batch_size, lease=timedelta(seconds=lease_seconds),
                            max_attempts=max_attempts, idle_sleep_s=idle_sleep)
    run_worker(runtime, once=once, with_clock=with_clock, options=options)


@click.group()
def events() -> None:
    """Inspect and replay webhook events in the inbox."""


@events.command("list")
@click.option("--status", type=click.Choice(["pending", "processing", "done", "dead"]))
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def list_command(status: str | None, limit: int, as_json: bool) -> None:
    """The newest events, with status, attempts and last error."""
    rows = list_events(build_runtime().engine, status=status, limit=limit)
    print_rows(rows, as_json=as_json, empty="no events", line=lambda row: (
        f"{row['id']:>8}  {row['status']:<10} {row['attempts']:>2}x  "
        f"{row['subscription_type'] or '-':<28} {row['object_id'] or '-':<12}"
        + (f"  {row['last_error']}" if row["last_error"] else "")))


@events.command("replay")
@click.argument("inbox_id", type=int, required=False)
@click.option("--dead", is_flag=True, help="Replay every dead event.")
def replay_command(inbox_id: int | None, dead: bool) -> None:
    """Send one event (its inbox id, from `events list`) or all dead events back to pending."""
    if (inbox_id is None) == (not dead):
        raise UserError("give an inbox id or --dead (not both)")
    count = replay(build_runtime().engine, event_id=inbox_id, dead=dead)
    if inbox_id is not None and not count:
        raise UserError(f"no inbox event {inbox_id} to replay (unknown, or being handled now)")
    click.echo(f"{count} event(s) back to pending")
