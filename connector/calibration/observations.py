"""What calibration reads: one row per snapshot (each signal's share, the score it had, the
advocate it belongs to) and whether the outcome followed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from connector.scoring.mapping import Mapping


@dataclass(frozen=True)
class Observations:
    """Snapshots as arrays: `shares` (n x signals, 0..1), `outcome` (n, bool), `groups` (n,
    one integer per advocate: held-out folds and intervals keep an advocate's snapshots
    together)."""

    signals: tuple[str, ...]
    shares: NDArray[np.float64]
    outcome: NDArray[np.bool_]
    groups: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.outcome)
        if self.shares.shape != (n, len(self.signals)) or self.groups.shape != (n,):
            raise ValueError("shares, outcome and groups must describe the same snapshots")

    @property
    def count(self) -> int:
        return int(len(self.outcome))

    @property
    def positives(self) -> int:
        return int(self.outcome.sum())

    @classmethod
    def build(cls, signals: Sequence[str], shares: Sequence[Sequence[float]],
              outcome: Sequence[bool], advocates: Sequence[str]) -> Observations:
        """From plain rows: `advocates` are contact ids, one per snapshot."""
        ids: dict[str, int] = {}
        groups = np.fromiter((ids.setdefault(a, len(ids)) for a in advocates), dtype=np.int64,
                             count=len(advocates))
        matrix = np.asarray(shares, dtype=np.float64).reshape(len(outcome), len(signals))
        return cls(tuple(signals), matrix, np.asarray(outcome, dtype=bool), groups)

    def subset(self, rows: NDArray[np.bool_]) -> Observations:
        """The snapshots where `rows` is true."""
        return Observations(self.signals, self.shares[rows], self.outcome[rows],
                            self.groups[rows])


def most_points(mapping: Mapping, signals: Sequence[str],
                weights: dict[str, float] | None = None) -> NDArray[np.float64]:
    """Each signal's most points on 0-100 under the mapping's weights or `weights` (scaled so
    that they add up to 100, as the mapping scales its own)."""
    given = weights if weights is not None else {s.key: s.weight for s in mapping.signals}
    total = sum(given.get(key, 0.0) for key in signals)
    if total <= 0:
        raise ValueError("the weights add up to 0")
    return np.array([given.get(key, 0.0) * 100.0 / total for key in signals])


def scores_of(shares: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.int64]:
    """The 0-100 scores a mapping gives these shares, rounded as scoring rounds them."""
    total = shares @ points
    return np.clip(np.floor(total + 0.5), 0, 100).astype(np.int64)
