"""`calibrate`: the whole analysis of one outcome on a set of snapshots, and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from connector.calibration.fit import FOLDS, Fit, FoldFits, choose_strength, fit, folds_of
from connector.calibration.observations import Observations, most_points, scores_of
from connector.calibration.proposal import proposed_weights
from connector.calibration.ranking import (
    Rate,
    auc,
    auc_interval,
    rates_by_band,
    rates_by_decile,
    rates_by_tier,
    rises,
)
from connector.scoring.mapping import Mapping

MIN_POSITIVES = 30  # and as many snapshots without the outcome
TIER_ORDER = ("champion", "ready", "nurture", "not_ready")


@dataclass(frozen=True)
class Ranking:
    """How well a score ranks the snapshots by outcome."""

    auc: float
    interval: tuple[float, float]
    tiers: list[Rate]
    deciles: list[Rate]
    bands: list[Rate]

    @property
    def significant(self) -> bool:
        """The interval lies above 0.5: higher scores go with the outcome, beyond chance."""
        return bool(self.interval[0] > 0.5)

    def as_json(self) -> dict[str, Any]:
        return {"auc": _r(self.auc), "auc_interval": [_r(v) for v in self.interval],
                "rises_with_score": self.significant,
                "deciles_never_fall": rises(self.deciles),
                "tiers": [r.as_json() for r in self.tiers],
                "deciles": [r.as_json() for r in self.deciles],
                "bands": [r.as_json() for r in self.bands]}


@dataclass(frozen=True)
class HeldOut:
    """AUC on advocates left out of each fit: the current weights against the proposed ones."""

    current: float
    proposed: float
    folds: list[tuple[float, float]]

    @property
    def better_in(self) -> int:
        return sum(1 for current, proposed in self.folds if proposed > current)

    def as_json(self) -> dict[str, Any]:
        return {"current_auc": _r(self.current), "proposed_auc": _r(self.proposed),
                "folds": [{"current_auc": _r(c), "proposed_auc": _r(p)} for c, p in self.folds],
                "proposed_better_in_folds": self.better_in}


@dataclass(frozen=True)
class Calibration:
    """Everything `connector calibrate` says about one outcome."""

    outcome: str
    snapshots: int
    positives: int
    advocates: int
    ranking: Ranking | None
    fit: Fit | None = None
    held_out: HeldOut | None = None
    weights: dict[str, float] = field(default_factory=dict)
    # per signal, its coefficient in each cross-validation fit: how much it moves with the data
    fold_coefficients: dict[str, list[float]] = field(default_factory=dict)
    proposal: dict[str, float] | None = None
    verdict: str = ""

    @property
    def significant(self) -> bool:
        """Whether anything beyond chance was found: the score's ranking or a signal."""
        return bool((self.ranking is not None and self.ranking.significant) or (
            self.fit is not None and any(e.significant for e in self.fit.effects)))

    def as_json(self) -> dict[str, Any]:
        effects = []
        if self.fit is not None:
            ranked = sorted(self.fit.effects, key=lambda e: -e.coefficient)
            effects = [{**e.as_json(), "rank": n + 1,
                        "across_folds": _spread(self.fold_coefficients.get(e.signal, [])),
                        "weight": self.weights.get(e.signal),
                        "proposed_weight": (self.proposal or {}).get(e.signal)}
                       for n, e in enumerate(ranked)]
        return {
            "outcome": self.outcome, "snapshots": self.snapshots, "positives": self.positives,
            "rate": _r(self.positives / self.snapshots) if self.snapshots else None,
            "advocates": self.advocates, "minimum_positives": MIN_POSITIVES,
            "significant": self.significant,
            "ranking": self.ranking.as_json() if self.ranking else None,
            "signals": effects,
            "regularisation": ({"C": self.fit.strength, "folds": FOLDS}
                               if self.fit is not None else None),
            "held_out": self.held_out.as_json() if self.held_out else None,
            "proposal": ({"weights": self.proposal, "total": sum(self.proposal.values())}
                         if self.proposal else None),
            "verdict": self.verdict,
        }


def _spread(values: list[float]) -> list[float | None] | None:
    """[lowest, highest] of a signal's coefficients over the folds."""
    return [_r(min(values)), _r(max(values))] if values else None


def _r(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def rank(mapping: Mapping, data: Observations, *, seed: int = 0) -> Ranking | None:
    """The current weights' ranking of these snapshots; None without both outcomes."""
    if data.positives == 0 or data.positives == data.count:
        return None
    scores = scores_of(data.shares, most_points(mapping, data.signals))
    tiers = [mapping.tier_by_score[s] for s in scores]
    return Ranking(auc(scores, data.outcome),
                   auc_interval(scores, data.outcome, data.groups, seed=seed),
                   rates_by_tier(tiers, data.outcome, scores, TIER_ORDER),
                   rates_by_decile(scores, data.outcome),
                   rates_by_band(scores, data.outcome, mapping.thresholds))


def held_out(mapping: Mapping, data: Observations, fits: FoldFits) -> HeldOut:
    """Out-of-fold scores of the weights each fold would propose, against the current ones."""
    current = scores_of(data.shares, most_points(mapping, data.signals))
    proposed = current.copy()
    folds = []
    for test, coefficients in fits:
        weights = proposed_weights(coefficients, mapping)
        if weights:
            proposed[test] = scores_of(data.shares[test],
                                       most_points(mapping, data.signals, weights))
        folds.append((auc(current[test], data.outcome[test]),
                      auc(proposed[test], data.outcome[test])))
    return HeldOut(auc(current, data.outcome), auc(proposed, data.outcome), folds)


def calibrate(mapping: Mapping, data: Observations, *, outcome: str, seed: int = 0,
              min_positives: int = MIN_POSITIVES) -> Calibration:
    """Rank, fit, cross-validate and propose (or say why not) for one outcome."""
    ranking = rank(mapping, data, seed=seed)
    base = Calibration(outcome=outcome, snapshots=data.count, positives=data.positives,
                       advocates=int(len(np.unique(data.groups))), ranking=ranking,
                       weights={s.key: s.weight for s in mapping.signals})
    negatives = data.count - data.positives
    if data.positives < min_positives or negatives < min_positives:
        short = (f"{data.positives} snapshots with the outcome `{outcome}`"
                 if data.positives < min_positives
                 else f"{negatives} snapshots without the outcome `{outcome}`")
        return replace(base, verdict=(
            f"not enough outcomes to calibrate: {short} among {data.count} whose window has "
            f"ended; calibration needs at least {min_positives} of each. Nothing proposed."))
    fold = folds_of(data.groups, FOLDS, seed)
    strength, fits = choose_strength(data, fold)
    fitted = fit(data, strength)
    compared = held_out(mapping, data, fits)
    found = _verdict(ranking, fitted, compared, mapping, data)
    spread = {key: [coefficients[key] for _test, coefficients in fits] for key in data.signals}
    return replace(base, fit=fitted, held_out=compared, fold_coefficients=spread,
                   proposal=found[0], verdict=found[1])


def _verdict(ranking: Ranking | None, fitted: Fit, compared: HeldOut, mapping: Mapping,
             data: Observations) -> tuple[dict[str, float] | None, str]:
    significant = [e.signal for e in fitted.effects if e.significant and e.coefficient > 0]
    scored = ("" if ranking is None else
              f"the current score ranks them with AUC {ranking.auc:.3f} "
              f"(95% interval {ranking.interval[0]:.3f}-{ranking.interval[1]:.3f}"
              f"{', no better than chance' if not ranking.significant else ''}); ")
    if not significant:
        return None, (f"{scored}no signal predicts the outcome beyond chance "
                      f"({data.positives:,} of {data.count:,} snapshots): nothing significant, "
                      "nothing proposed.")
    weights = proposed_weights(fitted.coefficients(), mapping)
    if not weights or not compared.proposed > compared.current:
        return None, (f"{scored}{', '.join(significant)} predict the outcome, but weights "
                      f"fitted on them do no better on held-out advocates (AUC "
                      f"{compared.proposed:.3f} against {compared.current:.3f}): "
                      "nothing proposed.")
    return weights, (f"{scored}{', '.join(significant)} predict the outcome; the proposed "
                     f"weights rank held-out advocates with AUC {compared.proposed:.3f} "
                     f"against {compared.current:.3f} for the current ones (better in "
                     f"{compared.better_in} of {len(compared.folds)} folds). Proposed, "
                     "not applied: write it with --write and review it.")
