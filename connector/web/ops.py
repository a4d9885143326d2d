"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector import metrics
from connector.db.migrate import NotMigrated, not_migrated_line, schema_status
from connector.db.problems import database_problem
from connector.report.health import (
    inbox_counts,
    iso,
    last_successful_sync,
    outbox_counts,
    pauses,
)
from connector.web.current import runtime_of

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)

STALE_AFTER_INTERVALS = 3


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering; says nothing about its dependencies."""
    return Response("ok\n", mimetype="text/plain")


def readiness(
    engine: Engine, interval_minutes: int, now: datetime
) -> tuple[bool, dict[str, object]]:
    """Whether this deployment can do its job: database reachable, sync not stale.

    A fresh install (no sync has ever succeeded) counts as ready, so that webhooks are accepted
    and the dashboard answers while the first full sync of a large portal runs; the dashboard
    and `connector_last_sync_success_timestamp_seconds` show that no sync has finished yet.
    """
    try:
        schema = schema_status(engine)
        if not schema.usable:
            return False, {"status": "not ready", "database": "not migrated",
                           "reason": not_migrated_line(str(engine.url), schema)}
        with Session(engine) as session:
            last = last_successful_sync(session)
            paused = pauses(session)
    except SQLAlchemyError as exc:
        return False, _database_down(exc, str(engine.url))
    limit = timedelta(minutes=interval_minutes * STALE_AFTER_INTERVALS)
    body: dict[str, object] = {"database": "ok", "last_sync_success_at": iso(last),
                               "max_sync_age_seconds": int(limit.total_seconds())}
    if paused:
        first = paused[0]
        return False, {"status": "not ready", "paused": paused,
                       "reason": f"webhook events wait (paused since {first['since']}): "
                                 f"{first['reason']}", **body}
    if last is None:
        return True, {"status": "ready", "reason": "waiting for the first sync", **body}
    if now - last > limit:
        age = int((now - last).total_seconds())
        return False, {"status": "not ready",
                       "reason": f"last successful sync was {age} s ago, over "
                                 f"{STALE_AFTER_INTERVALS} sync intervals", **body}
    return True, {"status": "ready", **body}


def _database_down(exc: SQLAlchemyError, url: str) -> dict[str, object]:
    """Not ready: the database unreachable, or reachable with tables missing (not migrated)."""
    problem = database_problem(exc, url)
    if problem is not None and problem.kind == "not_migrated":
        return {"status": "not ready", "database": "not migrated", "reason": problem.line}
    detail = problem.line if problem else type(exc).__name__
    return {"status": "not ready", "database": "unreachable",
            "reason": f"database unreachable: {detail}"}


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database answers and the last sync is recent; 503 with the reason if not."""
    runtime = runtime_of(current_app)
    try:
        engine = runtime.engine
    except NotMigrated as exc:
        return jsonify({"status": "not ready", "database": "not migrated",
                        "reason": str(exc)}), 503
    except SQLAlchemyError as exc:
        return jsonify(_database_down(exc, runtime.settings.database_url)), 503
    ready, body = readiness(engine, runtime.settings.sync_interval_minutes, datetime.now(UTC))
    return jsonify(body), 200 if ready else 503


def refresh_gauges(engine: Engine) -> None:
    """Set the backlog and sync gauges from the database (they live there, not in a process)."""
    with Session(engine) as session:
        inbox, outbox = inbox_counts(session), outbox_counts(session)
        last = last_successful_sync(session)
    metrics.INBOX_BACKLOG.set(inbox["backlog"])
    metrics.DEAD_EVENTS.set(inbox["dead"])
    metrics.OUTBOX_BACKLOG.set(outbox["backlog"])
    if last is not None:
        metrics.LAST_SYNC_SUCCESS.set(last.timestamp())


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Every metric in Prometheus text format; with gunicorn, summed over its workers."""
    try:
        refresh_gauges(runtime_of(current_app).engine)
    except SQLAlchemyError as exc:
        # the process metrics still help while the database is down; the gauges keep old values
        log.warning("metrics: database unavailable, gauges not refreshed: %s", type(exc).__name__)
    registry = REGISTRY
    if runtime_of(current_app).settings.prometheus_multiproc_dir:
        # each gunicorn worker writes its values to files there; collect them all per scrape
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
