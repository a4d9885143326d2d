"""The worker process: drain the inbox, queue new share-link clicks, flush the outbox, sleep
when idle, stop on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from connector.db.models import utcnow
from connector.errors import UserError
from connector.queue.inbox import MAX_ATTEMPTS, prune_handled
from connector.sync import flush
from connector.worker import clock, payouts
from connector.worker.drain import BATCH_SIZE, LEASE, DrainSummary, drain_inbox
from connector.worker.shares import announce_new_clicks

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker drains: batch size, lease, attempts before dead, idle sleep."""

    batch_size: int = BATCH_SIZE
    lease: timedelta = LEASE
    max_attempts: int = MAX_ATTEMPTS
    idle_sleep_s: float = 1.0
    # done events are kept past HubSpot's longest retry window (3 days for workflow actions)
    # so a late redelivery is still recognised as a duplicate, then pruned
    keep_done: timedelta = timedelta(days=7)
    prune_every_s: float = 600.0


def flush_outbox(runtime: Runtime) -> int:
    """Send pending HubSpot writes and enrollments (the sync's outbox)."""
    return flush.flush_outbox(runtime)  # looked up on the module: tests replace it


_payout_problem: list[str] = []  # the last one logged: said once, not every pass


def pay_due_rewards(runtime: Runtime) -> int:
    """Pay the rewards whose hold is over; a missing or refused provider key is one line in
    the log (once until it changes) and the rewards wait."""
    try:
        paid = payouts.pay_rewards(runtime).paid
    except UserError as exc:
        if _payout_problem != [str(exc)]:
            log.warning("payouts waiting: %s", exc)
            _payout_problem[:] = [str(exc)]
        return 0
    _payout_problem.clear()
    return paid


def work_once(runtime: Runtime, options: WorkerOptions) -> tuple[DrainSummary, int]:
    """Drain what is due, queue new share-link clicks, flush the outbox, pay due rewards;
    return the drain and the sent."""
    summary = drain_inbox(runtime, batch_size=options.batch_size, lease=options.lease,
                          max_attempts=options.max_attempts)
    clicked = announce_new_clicks(runtime)
    pay_due_rewards(runtime)  # before the flush: referral_rewards_paid goes out in this pass
    sent = flush_outbox(runtime)
    if summary.handled or summary.retried or summary.dead or sent or clicked:
        log.info("worker pass: %d handled, %d retried, %d dead, %d contacts re-scored, "
                 "%d advocates with new clicks, %d outbox items sent", summary.handled,
                 summary.retried, summary.dead, summary.rescored, clicked, sent)
    return summary, sent


class StopFlag:
    """Set by SIGTERM/SIGINT: the current pass finishes, then the worker exits."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        log.info("worker stopping after the current pass (signal %d)", signum)
        self.event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stopped."""
        return self.event.wait(seconds)


def _start_clock(runtime: Runtime) -> Any:
    """The clock's scheduler, running in this process (for single-process SQLite setups)."""
    scheduler = clock.build_scheduler(runtime, blocking=False)  # on the module: tests fake it
    scheduler.start()
    return scheduler


def run_worker(runtime: Runtime, *, once: bool = False, with_clock: bool = False,
               options: WorkerOptions | None = None, stop: StopFlag | None = None) -> None:
    """Drain and flush until stopped (or once); idle passes sleep `idle_sleep_s`."""
    options = options or WorkerOptions()
    if once:
        work_once(runtime, options)
        return
    stop = stop or StopFlag()
    stop.install()
    scheduler = _start_clock(runtime) if with_clock else None
    pruned_at = 0.0
    try:
        while not stop.event.is_set():
            try:
                if time.monotonic() - pruned_at > options.prune_every_s:
                    prune_handled(runtime.engine, utcnow() - options.keep_done)
                    pruned_at = time.monotonic()
                summary, sent = work_once(runtime, options)
            except UserError:
                raise
            except Exception:  # the database or HubSpot is down: log, wait, try again
                log.exception("worker pass failed; retrying in %.0f s", options.idle_sleep_s * 5)
                stop.wait(options.idle_sleep_s * 5)
                continue
            if not (summary.handled or summary.retried or summary.dead or sent):
                stop.wait(options.idle_sleep_s)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
