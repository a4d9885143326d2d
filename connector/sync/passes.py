"""The sync passes: incremental (contacts modified since the cursor) and full (every contact).

Incremental: contacts with `lastmodifieddate` from the cursor minus an overlap (HubSpot's
search index lags edits by "a few moments": https://developers.hubspot.com/docs/api/crm/search),
never past the run's start, so an edit made during the run is read by the next one.
Full: every contact in `hs_object_id` order, resumable from the last page written; it also
catches scores that move with time alone (recency decay).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from connector import metrics
from connector.db.models import SyncCursor
from connector.db.session import transaction
from connector.hubspot.records import Contact
from connector.hubspot.search import modified_ms
from connector.sync import cursors
from connector.sync.flush import flush_outbox
from connector.sync.page import process_page, read_properties
from connector.sync.pipeline import read_ahead
from connector.sync.rescore import rescore_contacts
from connector.sync.summary import SyncSummary
from connector.sync.vanished import SeenContacts, settle_vanished

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

OVERLAP_MS = 2 * 60 * 1000  # search index lag, with a wide margin
READ_AHEAD_PAGES = 1  # read page k+1 while page k is written; more only re-reads more after a crash
Progress = Callable[[SyncSummary], None]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _until(pages: Iterator[list[Contact]], limit_ms: int) -> Iterator[list[Contact]]:
    """Pages of contacts modified up to `limit_ms`; the walk stops at the first later one."""
    for page in pages:
        kept = [c for c in page if modified_ms(c) <= limit_ms]
        if kept:
            yield kept
        if len(kept) < len(page):
            return  # the rest was modified after the run started: the next run reads it


def run_sync(
    runtime: Runtime, *, full: bool = False, dry_run: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """Run one pass (full when asked or when no incremental cursor exists yet) and summarise it."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    gateway = runtime.gateway
    usage_before = gateway.usage()
    with runtime.sessions() as session:
        incremental = session.get(SyncCursor, cursors.INCREMENTAL)
        resume = session.get(SyncCursor, cursors.FULL)
        pending_retries = cursors.retry_ids(session)
    since_ms = incremental.modified_ms if incremental else None
    mode = "full" if full or since_ms is None else "incremental"
    summary = SyncSummary(mode=mode, dry_run=dry_run)
    # a resumed full pass keeps the start of the pass it resumes: edits since then are unseen
    resume_after = resume.object_id if resume and mode == "full" else None
    full_started = (resume.run_started_at if resume_after is not None and resume
                    and resume.run_started_at else started)
    # a full pass reads the connector's own properties too (same calls): HubSpot is the truth
    properties = read_properties(runtime, compare=mode == "full")
    try:
        if pending_retries and not dry_run:
            summary.owed = set(pending_retries)
            retried = rescore_contacts(runtime, pending_retries, reason="retry",
                                       summary=summary)
            summary.settled.update(retried.missing)  # gone from HubSpot: nothing to retry
        if mode == "full":
            log.info("full sync starting%s",
                     f" (resuming after contact {resume_after})" if resume_after else "")
            pages = gateway.iter_contacts(properties, after_object_id=resume_after)
        else:
            assert since_ms is not None
            log.info("incremental sync from %s", datetime.fromtimestamp(since_ms / 1000, UTC))
            pages = _until(gateway.iter_contacts(
                properties, modified_since_ms=max(0, since_ms - OVERLAP_MS)), _ms(started))
        # only a pass that read every contact can tell which ones disappeared
        seen = SeenContacts() if mode == "full" and resume_after is None and not dry_run else None
        for page in read_ahead(pages, ahead=READ_AHEAD_PAGES):
            if seen is not None:
                seen.add(page)
            checkpoint = (_full_checkpoint(page, full_started) if mode == "full"
                          else _incremental_checkpoint(page, _ms(started)))
            process_page(runtime, page, now=datetime.now(UTC), reason=f"sync:{mode}",
                         summary=summary, dry_run=dry_run, checkpoint=checkpoint,
                         compare=mode == "full")
            if progress is not None:
                progress(summary)
        if seen is not None:
            settle_vanished(runtime, seen)
        if not dry_run:
            _finish(runtime, summary, mode, full_started)
    except BaseException:
        _count_usage(runtime, summary, usage_before, clock)
        if not dry_run:
            _record_end(runtime, summary, mode, full_started if mode == "full" else started,
                        "error")
        raise
    _count_usage(runtime, summary, usage_before, clock)
    metrics.SYNC_DURATION.labels(mode=mode).observe(summary.elapsed_s)
    if not dry_run:
        _record_end(runtime, summary, mode, full_started if mode == "full" else started, "ok")
    return summary


def _full_checkpoint(page: list[Contact], pass_started: datetime) -> Callable[[Session], None]:
    last_id = max(int(c.id) for c in page)

    def save(session: Session) -> None:
        cursor = cursors.load_cursor(session, cursors.FULL)
        cursor.object_id = last_id
        cursor.run_started_at = pass_started

    return save


def _incremental_checkpoint(page: list[Contact], run_start_ms: int) -> Callable[[Session], None]:
    newest = max(page, key=modified_ms)
    newest_ms = min(modified_ms(newest), run_start_ms)

    def save(session: Session) -> None:
        cursor = cursors.load_cursor(session, cursors.INCREMENTAL, for_update=True)
        if cursor.modified_ms is None or newest_ms > cursor.modified_ms:
            cursor.modified_ms, cursor.object_id = newest_ms, int(newest.id)

    return save


def _finish(runtime: Runtime, summary: SyncSummary, mode: str, full_started: datetime) -> None:
    """After the last page: close the full pass, remember failed writes, flush the outbox."""
    now = datetime.now(UTC)
    with transaction(runtime.sessions) as session:
        if mode == "full":
            resume = cursors.load_cursor(session, cursors.FULL)
            resume.object_id = None  # a completed pass starts from the first contact next time
            incremental = cursors.load_cursor(session, cursors.INCREMENTAL, for_update=True)
            start_ms = _ms(full_started)
            if incremental.modified_ms is None or incremental.modified_ms < start_ms:
                incremental.modified_ms, incremental.object_id = start_ms, None
        cursors.update_retry_ids(session, settled=summary.settled,
                                 failed=summary.failed_ids, now=now)
    summary.outbox_sent = flush_outbox(runtime)


def _count_usage(
    runtime: Runtime, summary: SyncSummary, before: dict[str, Any], clock: float
) -> None:
    after = runtime.gateway.usage()
    summary.api_calls = int(after["total"]) - int(before["total"])
    summary.rate_limited = int(after["rate_limited"]) - int(before["rate_limited"])
    summary.elapsed_s = time.monotonic() - clock


def _record_end(
    runtime: Runtime, summary: SyncSummary, mode: str, started: datetime, status: str
) -> None:
    """Store the summary for the report and the gateway's call counts, without masking errors."""
    try:
        with transaction(runtime.sessions) as session:
            cursors.finish_run(session, mode, started=started, finished=datetime.now(UTC),
                               status=status, summary=summary.as_dict())
            runtime.gateway.record_usage(session)
    except Exception:
        log.exception("could not record the end of the %s sync", mode)
