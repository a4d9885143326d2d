"""Snapshots and their outcomes read from the connector's tables, for `connector calibrate` and
the dashboard's calibration panel.

A snapshot's outcome window runs from the ask to N days later or to the advocate's next ask,
whichever comes first, so a referral counts for the latest ask before it and never twice.
`referred`: a referral the program counts (not one a merge cancelled as a duplicate or a
self-referral) was attributed in the window. `converted`: such a referral has converted. A
snapshot whose window has not ended yet (for `converted`, the program's conversion window
after it too) is left out: its outcome is not known.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from connector.calibration.analysis import Calibration, Ranking, calibrate, rank
from connector.calibration.observations import Observations
from connector.db.models import ReadinessSnapshot, Referral
from connector.errors import UserError
from connector.program.counters import COUNTED
from connector.program.dates import aware
from connector.report.health import iso
from connector.scoring.mapping import Mapping

if TYPE_CHECKING:
    from connector.runtime import Runtime

OUTCOMES = ("referred", "converted")


class CalibrationUnavailable(UserError):
    """The database cannot be read (down, or not migrated)."""


@dataclass(frozen=True)
class Snapshots:
    """The snapshots calibration can use (`ended`), those whose window is still open, and
    how many were taken under a mapping whose shares mean something else."""

    ended: Observations
    so_far: Observations  # every usable snapshot, open windows counted with what happened yet
    total: int
    open: int
    other_mapping: int
    first_open_end: datetime | None

    def counts(self) -> dict[str, Any]:
        return {"total": self.total, "used": self.ended.count, "window_open": self.open,
                "other_mapping": self.other_mapping,
                "next_window_ends": iso(self.first_open_end)}


def load_snapshots(session: Session, mapping: Mapping, *, outcome: str, window_days: int,
                   conversion_days: int, since: datetime | None = None,
                   now: datetime | None = None) -> Snapshots:
    """Snapshots taken at or after `since` with their outcome as of `now`."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    now = now or datetime.now(UTC)
    query = select(ReadinessSnapshot.contact_id, ReadinessSnapshot.taken_at,
                   ReadinessSnapshot.shares, ReadinessSnapshot.signals_version)
    if since is not None:
        query = query.where(ReadinessSnapshot.taken_at >= since)
    rows = session.execute(query.order_by(ReadinessSnapshot.contact_id,
                                          ReadinessSnapshot.taken_at,
                                          ReadinessSnapshot.id)).all()
    referrals = _referrals(session, since, converted=outcome == "converted")
    window = timedelta(days=window_days)
    # a referral made in the window may convert up to the program's window later
    settle = timedelta(days=conversion_days) if outcome == "converted" else timedelta(0)
    keys = [s.key for s in mapping.signals]
    shares, happened, ended, advocates = [], [], [], []
    other, first_open = 0, None
    for n, (contact_id, taken_raw, taken_shares, version) in enumerate(rows):
        taken = aware(taken_raw)
        assert taken is not None
        if version != mapping.signals_version:
            other += 1
            continue
        following = rows[n + 1] if n + 1 < len(rows) else None
        end = taken + window
        if following is not None and following[0] == contact_id:
            end = min(end, aware(following[1]) or end)
        times = referrals.get(contact_id, [])
        at = bisect_left(times, taken)
        found = at < len(times) and times[at] < end
        closed = end + settle <= now
        if not closed and (first_open is None or end + settle < first_open):
            first_open = end + settle
        shares.append([float((taken_shares or {}).get(k, 0.0)) for k in keys])
        happened.append(found)
        ended.append(closed)
        advocates.append(contact_id)
    every = Observations.build(keys, shares, happened, advocates)
    mask = np.asarray(ended, dtype=bool)
    return Snapshots(every.subset(mask), every, len(rows), int((~mask).sum()), other, first_open)


def _referrals(session: Session, since: datetime | None, *, converted: bool
               ) -> dict[str, list[datetime]]:
    """Attribution times of counted referrals (converted ones only) by advocate, sorted."""
    query = select(Referral.advocate_contact_id, Referral.attributed_at)
    query = query.where(Referral.status == "converted") if converted else query.where(
        Referral.status.in_(COUNTED))
    if since is not None:
        query = query.where(Referral.attributed_at >= since)
    found: dict[str, list[datetime]] = defaultdict(list)
    for advocate, attributed in session.execute(query):
        moment = aware(attributed)
        if moment is not None:
            found[advocate].append(moment)
    for times in found.values():
        times.sort()
    return found


def calibration_panel(session: Session, mapping: Mapping, *, window_days: int,
                      now: datetime | None = None) -> dict[str, Any]:
    """The dashboard's panel: the rate of `referred` per score band and the AUC with its
    interval, on snapshots whose window has ended."""
    loaded = load_snapshots(session, mapping, outcome="referred", window_days=window_days,
                            conversion_days=0, now=now)
    data = loaded.ended
    ranking = rank(mapping, data)
    panel: dict[str, Any] = {"outcome": "referred", "window_days": window_days,
                             "snapshots": loaded.counts(), "positives": data.positives,
                             "auc": None, "auc_interval": None, "bands": []}
    if ranking is not None:
        found = ranking.as_json()
        panel.update(auc=found["auc"], auc_interval=found["auc_interval"],
                     rises_with_score=found["rises_with_score"], bands=found["bands"])
    return panel


@dataclass(frozen=True)
class CalibrationRun:
    """One `connector calibrate`: the analysis, the snapshots it read, and its JSON."""

    result: Calibration
    snapshots: Snapshots
    provisional: Ranking | None
    document: dict[str, Any]


def run_calibration(runtime: Runtime, *, outcome: str, since: datetime | None = None,
                    window_days: int | None = None, now: datetime | None = None,
                    seed: int = 0) -> CalibrationRun:
    """Load the snapshots and calibrate the mapping in use on one outcome (nothing written)."""
    now = now or datetime.now(UTC)
    mapping = runtime.mapping
    days = window_days or runtime.settings.calibration_window_days
    try:
        with runtime.sessions() as session:
            loaded = load_snapshots(session, mapping, outcome=outcome, window_days=days,
                                    conversion_days=runtime.program.window_days, since=since,
                                    now=now)
    except (OperationalError, ProgrammingError) as exc:
        raise CalibrationUnavailable(
            "cannot read the connector's database "
            f"({str(exc.orig).splitlines()[0]}); run `connector db upgrade` first") from None
    result = calibrate(mapping, loaded.ended, outcome=outcome, seed=seed)
    provisional = None
    if result.fit is None and loaded.open:
        # too few ended windows: what has happened so far, never used for a proposal
        provisional = rank(mapping, loaded.so_far, seed=seed)
        ends = loaded.first_open_end
        result = replace(result, verdict=(
            f"{result.verdict} {loaded.open} more asks have their window still open"
            + (f" (the next one ends {ends.date().isoformat()})" if ends else "") + "."))
    document = {
        "generated_at": iso(now), "since": iso(since), "window_days": days,
        "mapping": {"file": mapping.source.name, "version": mapping.version,
                    "signals_version": mapping.signals_version},
        "snapshots_read": loaded.counts(),
        **result.as_json(),
        "provisional": None if provisional is None else {
            "note": "every snapshot, open windows counted with the outcomes so far: "
                    "an early look, not used for any proposal",
            "snapshots": loaded.so_far.count, "positives": loaded.so_far.positives,
            **provisional.as_json()},
    }
    return CalibrationRun(result, loaded, provisional, document)
