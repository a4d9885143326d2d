"""The worker process: drain the inbox, queue new share-link clicks, flush the outbox, sleep
when idle (woken at once on PostgreSQL when webhook events are stored), stop on SIGTERM."""

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
from connector.hubspot.retry import TokenRejected
from connector.queue.inbox import MAX_ATTEMPTS, prune_handled
from connector.queue.pauses import HUBSPOT_TOKEN, clear_pause, record_pause
from connector.runtime import log_failure
from connector.sync import flush
from connector.worker import clock, payouts
from connector.worker.drain import BATCH_SIZE, LEASE, DrainSummary, drain_inbox
from connector.worker.shares import announce_new_clicks
from connector.worker.wakeup import InboxWakeup

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
    # with the access token rejected, how often to try it again (one cheap call each time)
    token_retry_s: float = 30.0
    # how often this worker adds its HubSpot calls to `api_usage` (the report's 24 h count)
    save_usage_every_s: float = 10.0
    # how often it looks for rewards to pay: they become payable when a hold ends (the clock,
    # hourly) or a person approves, so not on every pass of a busy inbox
    pay_every_s: float = 30.0


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


def work_once(runtime: Runtime, options: WorkerOptions, *,
              pay: bool = True) -> tuple[DrainSummary, int]:
    """Drain what is due, queue new share-link clicks, pay due rewards (when `pay`), flush
    the outbox; return the drain and the sent."""
    summary = drain_inbox(runtime, batch_size=options.batch_size, lease=options.lease,
                          max_attempts=options.max_attempts)
    clicked = announce_new_clicks(runtime)
    if pay:  # before the flush: referral_rewards_paid goes out in this pass
        pay_due_rewards(runtime)
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


class TokenPause:
    """The drain paused while HubSpot rejects the access token: recorded in the database for
    /readyz and the dashboard, tried again every `token_retry_s`, lifted by itself."""

    def __init__(self, runtime: Runtime, retry_s: float) -> None:
        self.runtime = runtime
        self.retry_s = retry_s
        self.paused = False
        self._next_try = 0.0

    def pause(self, exc: TokenRejected) -> None:
        """The token was refused: pause (the events went back untried) and say so once."""
        if not self.paused:
            log.warning("worker paused: %s; events keep their attempts, the token is tried "
                        "again every %.0f s", exc, self.retry_s)
        self.paused = True
        self._next_try = time.monotonic() + self.retry_s
        try:
            record_pause(self.runtime.engine, HUBSPOT_TOKEN, str(exc), utcnow())
        except Exception as failure:  # noqa: BLE001 - the pause holds in this process anyway
            log_failure(log, "could not record the pause", failure, self.runtime.settings)

    def wait_s(self) -> float:
        """Seconds until the token should be tried again (0: now, or not paused)."""
        return max(self._next_try - time.monotonic(), 0.0) if self.paused else 0.0

    def try_again(self) -> bool:
        """One cheap call with the token; True (and the pause lifted) when HubSpot takes it."""
        try:
            self.runtime.gateway.probe()
        except TokenRejected as exc:
            self.pause(exc)
            return False
        clear_pause(self.runtime.engine, HUBSPOT_TOKEN)
        self.paused = False
        log.info("HubSpot accepts the access token again: the worker resumes")
        return True


def _paused(pause: TokenPause, stop: StopFlag) -> bool:
    """While paused: wait for the next try (or a stop); True when still paused after it."""
    if not pause.paused:
        return False
    wait = pause.wait_s()
    if wait > 0:
        stop.wait(min(wait, 1.0))
        return True
    return not pause.try_again()


def run_worker(runtime: Runtime, *, once: bool = False, with_clock: bool = False,
               options: WorkerOptions | None = None, stop: StopFlag | None = None) -> None:
    """Drain and flush until stopped (or once); idle passes sleep `idle_sleep_s`; a rejected
    token pauses the drain until HubSpot accepts it again."""
    options = options or WorkerOptions()
    if once:
        try:
            work_once(runtime, options)
        finally:
            _save_usage(runtime)
        return
    stop = stop or StopFlag()
    stop.install()
    scheduler = _start_clock(runtime) if with_clock else None
    pause = TokenPause(runtime, options.token_retry_s)
    wakeup = InboxWakeup(runtime.engine, stop.event)
    wakeup.start()  # LISTEN before the first look: no event stored after it waits for the poll
    pruned_at = saved_at = paid_at = 0.0
    try:
        while not stop.event.is_set():
            if time.monotonic() - saved_at >= options.save_usage_every_s:
                saved_at = time.monotonic()
                _save_usage(runtime)
            try:
                if _paused(pause, stop):
                    continue
                if time.monotonic() - pruned_at > options.prune_every_s:
                    prune_handled(runtime.engine, utcnow() - options.keep_done)
                    pruned_at = time.monotonic()
                pay = time.monotonic() - paid_at >= options.pay_every_s
                if pay:
                    paid_at = time.monotonic()
                summary, sent = work_once(runtime, options, pay=pay)
            except TokenRejected as exc:
                pause.pause(exc)
                continue
            except UserError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database or HubSpot is down: wait, retry
                log_failure(log, f"worker pass failed; retrying in "
                                 f"{options.idle_sleep_s * 5:.0f} s", exc, runtime.settings)
                stop.wait(options.idle_sleep_s * 5)
                continue
            if not (summary.handled or summary.retried or summary.dead or sent):
                wakeup.wait(options.idle_sleep_s)  # at once when the receiver stores events
    finally:
        wakeup.close()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        _save_usage(runtime)


def _save_usage(runtime: Runtime) -> None:
    try:
        runtime.save_usage()
    except Exception as exc:  # noqa: BLE001 - kept in memory, saved at the next try
        log_failure(log, "could not save the HubSpot call counts", exc, runtime.settings)
