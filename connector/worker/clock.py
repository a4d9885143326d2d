"""The clock process: APScheduler runs the incremental pass every few minutes and a daily full one.

Each job takes its pass's lock first (connector/worker/locks.py), so a pass still running
makes the next one skip, and records its start in the database: a pass that started within its
interval is skipped whichever clock asks, so two clocks run each pass once.
The scheduler is only built here and started by `connector clock`, never in the web process.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from connector.runtime import Runtime, log_failure
from connector.sync import passes
from connector.sync.summary import SyncSummary
from connector.worker import due
from connector.worker.due import DueWork
from connector.worker.locks import pass_lock, start_pass

log = logging.getLogger(__name__)

FULL_SYNC_HOUR_UTC = 3  # the daily full pass, at a quiet hour for most portals
MISFIRE_GRACE_S = 300
PROGRAM_DUE_HOURS = 1  # reminders are counted in days: hourly is prompt enough
INTERVAL_MARGIN = 0.1  # of the interval, at most a minute: scheduler jitter, not a second run


def interval(runtime: Runtime, job: str) -> timedelta:
    """How often a job runs: a pass that started less than this ago is not run again."""
    if job == "sync:incremental":
        return timedelta(minutes=runtime.settings.sync_interval_minutes)
    return timedelta(hours=24) if job == "sync:full" else timedelta(hours=PROGRAM_DUE_HOURS)


def _ran_recently(runtime: Runtime, job: str) -> bool:
    """True when `job` started within its interval (whichever clock ran it); else its start
    is recorded now. A margin keeps a clock's own next run, a little early, from skipping."""
    every = interval(runtime, job)
    within = every - min(every * INTERVAL_MARGIN, timedelta(minutes=1))
    return not start_pass(runtime.engine, job, within=within, now=datetime.now(UTC))


def run_pass(runtime: Runtime, name: str) -> SyncSummary | None:
    """Run one sync pass under its lock, once per interval however many clocks ask; None when
    skipped or failed."""
    try:
        with pass_lock(runtime.engine, f"sync:{name}") as held:
            if not held:
                log.info("%s sync skipped: another clock or run holds its lock", name)
                return None
            if _ran_recently(runtime, f"sync:{name}"):
                log.info("%s sync skipped: it ran within its interval", name)
                return None
            summary = passes.run_sync(runtime, full=name == "full")
    except Exception as exc:  # noqa: BLE001 - the scheduler stays alive for the next run
        log_failure(log, f"{name} sync failed", exc, runtime.settings)
        return None
    for line in summary.lines():
        log.info("%s", line)
    return summary


def run_program_due(runtime: Runtime) -> DueWork | None:
    """Reminders due and holds ended, under their own pass lock; None when skipped or failed."""
    try:
        with pass_lock(runtime.engine, "program:due") as held:
            if not held:
                log.info("program reminders skipped: another clock or run holds their lock")
                return None
            if _ran_recently(runtime, "program:due"):
                log.info("program reminders skipped: they ran within their interval")
                return None
            work = due.run_due_work(runtime, datetime.now(UTC))
            runtime.save_usage()
    except Exception as exc:  # noqa: BLE001 - the scheduler stays alive for the next run
        log_failure(log, "program reminders failed", exc, runtime.settings)
        return None
    log.info("program: %d reminders due, %d written, %d rewards released from their hold, "
             "%d referrals converted by missed deals",
             work.reminded, work.written, work.released, work.deals_converted)
    return work


def build_scheduler(runtime: Runtime, blocking: bool = True) -> BaseScheduler:
    """The clock's scheduler with its three jobs (not started)."""
    scheduler: BaseScheduler = (BlockingScheduler(timezone=UTC) if blocking
                                else BackgroundScheduler(timezone=UTC))
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S}
    scheduler.add_job(run_pass, "interval", args=[runtime, "incremental"],
                      minutes=runtime.settings.sync_interval_minutes, id="sync-incremental",
                      name="incremental sync",
                      next_run_time=datetime.now(UTC), **common)
    scheduler.add_job(run_pass, "cron", args=[runtime, "full"], hour=FULL_SYNC_HOUR_UTC,
                      minute=0, id="sync-full", name="full sync", **common)
    # a contact that does not change is not re-read by the incremental pass: its reminder
    # and the end of its rewards' hold come from here
    scheduler.add_job(run_program_due, "interval", args=[runtime], hours=PROGRAM_DUE_HOURS,
                      id="program-due", name="program reminders and holds", **common)
    return scheduler
