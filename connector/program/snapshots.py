"""Readiness snapshots: the score as it was when the program asked an advocate (invitation,
reminder), kept so `connector calibrate` can check it against what the advocate did next."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from connector.db.models import ReadinessSnapshot

if TYPE_CHECKING:
    from connector.scoring.model import ReadinessScore

STEPS = ("invitation", "reminder")
# shares to 6 places: a score rebuilt from them is off by at most 0.0001 points
SHARE_PLACES = 6


def record_snapshot(session: Session, contact_id: str, readiness: ReadinessScore, *,
                    step: str, now: datetime) -> ReadinessSnapshot | None:
    """Keep the score, tier and each signal's share at this ask; None for a score that no
    mapping made (nothing to compare later)."""
    if step not in STEPS:
        raise ValueError(f"unknown snapshot step {step!r}")
    basis = readiness.basis
    if basis is None:
        return None
    snapshot = ReadinessSnapshot(
        contact_id=str(contact_id), step=step, taken_at=now, score=readiness.score,
        tier=readiness.tier,
        shares={key: round(float(share), SHARE_PLACES)
                for key, share in readiness.signal_shares().items()},
        mapping_version=basis.mapping_version, signals_version=basis.signals_version)
    session.add(snapshot)
    return snapshot
