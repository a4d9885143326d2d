"""How well a 0-100 score ranks snapshots by outcome: ROC AUC with a bootstrap interval that
resamples advocates (their snapshots stay together), and the outcome rate per tier, per score
decile and per score band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

SCORES = 101  # 0..100
CELLS = 2 * SCORES  # (score, outcome)
BOOTSTRAP = 1000
CHUNK = 100  # replicates per matrix product: keeps memory flat on 100,000 advocates


@dataclass(frozen=True)
class Rate:
    """The outcome in one group of snapshots."""

    label: str
    count: int
    positives: int
    low: int  # lowest score in the group
    high: int

    @property
    def rate(self) -> float | None:
        return round(self.positives / self.count, 4) if self.count else None

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "snapshots": self.count, "positives": self.positives,
                "rate": self.rate, "scores": [self.low, self.high] if self.count else None}


def auc_from_counts(positives: NDArray[Any], negatives: NDArray[Any]) -> NDArray[np.float64]:
    """ROC AUC from counts per score (last axis 0..100; ties count half); NaN without both."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    below = np.cumsum(neg, axis=-1) - neg  # negatives scoring strictly lower
    wins = (pos * (below + 0.5 * neg)).sum(axis=-1)
    pairs = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1), np.nan)


def auc(scores: NDArray[np.int64], outcome: NDArray[np.bool_]) -> float:
    """ROC AUC of integer 0-100 scores; NaN when one outcome is missing."""
    pos = np.bincount(scores[outcome], minlength=SCORES)
    neg = np.bincount(scores[~outcome], minlength=SCORES)
    return float(auc_from_counts(pos, neg))


def auc_interval(scores: NDArray[np.int64], outcome: NDArray[np.bool_],
                 groups: NDArray[np.int64], *, seed: int, replicates: int = BOOTSTRAP,
                 level: float = 0.95) -> tuple[float, float]:
    """A percentile bootstrap interval for the AUC that resamples advocates, keeping each
    advocate's snapshots together (a Poisson bootstrap: each advocate weighs Poisson(1)).

    Advocates with the same snapshots (scores and outcomes) are interchangeable, and a sum of
    m Poisson(1) weights is Poisson(m): one draw per distinct pattern, so the cost follows
    the number of patterns, not of advocates.
    """
    cells = scores.astype(np.int64) + SCORES * outcome.astype(np.int64)
    order = np.lexsort((cells, groups))
    cells, grouped = cells[order], groups[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    ends = np.r_[starts[1:], len(cells)]
    patterns: dict[bytes, int] = {}
    index = np.fromiter((patterns.setdefault(cells[a:b].tobytes(), len(patterns))
                         for a, b in zip(starts, ends, strict=True)),
                        dtype=np.int64, count=len(starts))
    members = np.bincount(index, minlength=len(patterns)).astype(np.float64)
    # each pattern's cells, flattened: (pattern, cell) once per snapshot in it
    entry_pattern = np.repeat(np.arange(len(patterns)),
                              [len(key) // 8 for key in patterns])
    entry_cell = np.frombuffer(b"".join(patterns), dtype=np.int64)
    rng = np.random.default_rng(seed)
    found = np.empty(replicates)
    for start in range(0, replicates, CHUNK):
        draws = rng.poisson(members, size=(min(CHUNK, replicates - start), len(members)))
        counts = np.stack([np.bincount(entry_cell, weights=row[entry_pattern], minlength=CELLS)
                           for row in draws])
        found[start:start + len(draws)] = auc_from_counts(counts[:, SCORES:],
                                                          counts[:, :SCORES])
    found = found[~np.isnan(found)]
    if not len(found):
        return (float("nan"), float("nan"))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(found, [tail, 100 - tail])
    return (float(low), float(high))


def _rate(label: str, scores: NDArray[np.int64], outcome: NDArray[np.bool_]) -> Rate:
    if not len(scores):
        return Rate(label, 0, 0, 0, 0)
    return Rate(label, int(len(scores)), int(outcome.sum()), int(scores.min()),
                int(scores.max()))


def rates_by_decile(scores: NDArray[np.int64], outcome: NDArray[np.bool_],
                    parts: int = 10) -> list[Rate]:
    """Ten groups of (nearly) equal size from the lowest scores to the highest."""
    order = np.argsort(scores, kind="stable")
    return [_rate(f"decile {n + 1}", scores[rows], outcome[rows])
            for n, rows in enumerate(np.array_split(order, parts)) if len(rows)]


def rates_by_band(scores: NDArray[np.int64], outcome: NDArray[np.bool_],
                  thresholds: Sequence[tuple[float, str]]) -> list[Rate]:
    """One group per tier band of the score (the mapping's thresholds), highest first; the
    band under the lowest threshold is `not_ready`."""
    found = []
    upper = 101.0
    for lowest, tier in [*thresholds, (0.0, "not_ready")]:
        rows = (scores >= lowest) & (scores < upper)
        found.append(_rate(tier, scores[rows], outcome[rows]))
        upper = lowest
    return found


def rates_by_tier(tiers: Sequence[str], outcome: NDArray[np.bool_],
                  scores: NDArray[np.int64], order: Sequence[str]) -> list[Rate]:
    """One group per tier the snapshots were in, in `order` (highest first)."""
    labels = np.asarray(tiers)
    return [_rate(tier, scores[labels == tier], outcome[labels == tier])
            for tier in order if (labels == tier).any()]


def rises(rates: Sequence[Rate]) -> bool:
    """Whether each group's rate is at least the one before (lowest scores first)."""
    values = [r.rate for r in rates if r.rate is not None]
    return all(b >= a for a, b in zip(values, values[1:], strict=False))
