"""`connector calibrate` on 100,000 snapshots: seconds from the database to the verdict.

Builds a database (SQLite in a temporary directory, or a scratch PostgreSQL database with
--postgres) holding N readiness snapshots of about N/1.6 advocates: each was invited and, while
silent, reminded up to twice a week apart; its shares come from scoring the sandbox's
outcome-model customers with the default mapping, and it referred according to their hidden
propensity. Then times what the command does (read the snapshots and referrals, work out
each ask's outcome, rank, fit, cross-validate, propose) and prints one JSON line with the ratio
to the target (below 1 meets it). Building the data is not timed.

    python benchmarks/calibrate_speed.py [--snapshots 100000] [--seed 7] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert  # noqa: E402

from connector.config import Settings  # noqa: E402
from connector.db.models import Base, ReadinessSnapshot, Referral  # noqa: E402
from connector.db.session import make_engine  # noqa: E402
from connector.report.calibration import load_snapshots, run_calibration  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.sandbox.outcomes import MODELS, generate_outcome_contacts  # noqa: E402
from connector.scoring.engine import score_contact  # noqa: E402

TARGET_S = 10.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)
REMINDERS = 2
REMINDER_DAYS = 7


def snapshot_rows(count: int, seed: int, runtime: Runtime
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Snapshots and referrals of advocates asked over the last year, as the program keeps
    them: an invitation, then a reminder a week later while the advocate stays silent."""
    rng = random.Random(seed)
    mapping = runtime.mapping
    keys = [s.key for s in mapping.signals]
    snapshots: list[dict[str, Any]] = []
    referrals: list[dict[str, Any]] = []
    # a population well above what is needed: only contacts scoring `ready` are asked
    people = generate_outcome_contacts(count * 2, seed, NOW - timedelta(days=400))
    truth = MODELS["truth"]
    for n, props in enumerate(people):
        if len(snapshots) >= count:
            break
        readiness = score_contact(props, mapping, NOW - timedelta(days=400))
        if readiness.tier not in ("champion", "ready"):
            continue
        shares = dict(zip(keys, (round(s, 6) for s in readiness.shares), strict=True))
        # a month's chance, spread over the ask and each reminder's week
        weekly = 1 - (1 - truth.propensity(props)) ** (REMINDER_DAYS / 30)
        asked = NOW - timedelta(days=rng.uniform(45, 365))
        for step in ["invitation"] + ["reminder"] * REMINDERS:
            snapshots.append({"contact_id": str(n), "step": step, "taken_at": asked,
                              "score": readiness.score, "tier": readiness.tier,
                              "shares": shares, "mapping_version": mapping.version,
                              "signals_version": mapping.signals_version})
            if rng.random() < weekly:
                referrals.append({"referred_contact_id": f"f{n}", "advocate_contact_id": str(n),
                                  "code": "BENCH", "status": "attributed",
                                  "attributed_at": asked + timedelta(days=rng.uniform(0, 6.9))})
                break
            asked += timedelta(days=REMINDER_DAYS)
    return snapshots[:count], referrals


def fill(engine: Engine, snapshots: list[dict[str, Any]],
         referrals: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for start in range(0, len(snapshots), 10_000):
            conn.execute(insert(ReadinessSnapshot), snapshots[start:start + 10_000])
        if referrals:
            conn.execute(insert(Referral), referrals)


@contextmanager
def database(postgres: bool):  # type: ignore[no-untyped-def]
    """(URL, engine) of an empty database with the connector's tables."""
    if postgres:
        from scratch import DEFAULT_DATABASE_URL, scratch_database

        with scratch_database(DEFAULT_DATABASE_URL) as (url, engine):
            yield url, engine
        return
    with tempfile.TemporaryDirectory(prefix="calibrate-bench-") as directory:
        url = f"sqlite:///{Path(directory) / 'connector.db'}"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true",
                        help="a scratch PostgreSQL database (CONNECTOR_TEST_DATABASE_URL)")
    args = parser.parse_args()
    with database(args.postgres) as (url, engine):
        runtime = Runtime(Settings(database_url=url), engine=engine)
        snapshots, referrals = snapshot_rows(args.snapshots, args.seed, runtime)
        fill(engine, snapshots, referrals)
        started, cpu = time.perf_counter(), time.process_time()
        run = run_calibration(runtime, outcome="referred", now=NOW)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        # of which reading the tables and working out the outcomes (timed again on its own)
        reading = time.perf_counter()
        with runtime.sessions() as session:
            load_snapshots(session, runtime.mapping, outcome="referred",
                           window_days=runtime.settings.calibration_window_days,
                           conversion_days=runtime.program.window_days, now=NOW)
        read_seconds = time.perf_counter() - reading
    result = run.result
    held = result.held_out
    print(json.dumps({
        "snapshots": result.snapshots, "advocates": result.advocates,
        "positives": result.positives, "database": "postgresql" if args.postgres else "sqlite",
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
        "read_seconds": round(read_seconds, 2),
        "target_s": TARGET_S, "ratio": round(seconds / TARGET_S, 3),
        "auc_current": None if held is None else round(held.current, 3),
        "auc_proposed": None if held is None else round(held.proposed, 3),
        "proposed": result.proposal is not None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
