"""What each signal tells about the outcome: an L2-regularised logistic regression on the
signals' shares (scikit-learn), its strength chosen by cross-validation over advocates, with
intervals that allow for one advocate's snapshots being alike (a cluster-robust sandwich)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from connector.calibration.observations import Observations

# inverse penalty strengths tried (scikit-learn's C): from strong shrinkage to almost none
STRENGTHS = (0.1, 1.0, 10.0, 100.0)
FOLDS = 5
Z_95 = 1.959964


@dataclass(frozen=True)
class SignalEffect:
    """One signal's coefficient on the log-odds of the outcome per unit of share (0 -> 1)."""

    signal: str
    coefficient: float
    std_error: float
    p_value: float
    significant: bool  # after a Bonferroni correction over the signals
    varies: bool  # False: every snapshot has the same share, nothing can be learnt

    @property
    def interval(self) -> tuple[float, float]:
        return (self.coefficient - Z_95 * self.std_error,
                self.coefficient + Z_95 * self.std_error)

    def as_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {"signal": self.signal, "coefficient": _round(self.coefficient),
                "std_error": _round(self.std_error), "interval": [_round(low), _round(high)],
                "p_value": _round(self.p_value, 6), "significant": self.significant,
                "varies": self.varies}


@dataclass(frozen=True)
class Fit:
    """A fitted model: intercept, one effect per signal, and the strength it was fitted with."""

    intercept: float
    effects: tuple[SignalEffect, ...]
    strength: float

    def coefficients(self) -> dict[str, float]:
        return {e.signal: e.coefficient for e in self.effects}


def _round(value: float, places: int = 4) -> float | None:
    return None if not math.isfinite(value) else round(value, places)


def folds_of(groups: NDArray[np.int64], folds: int, seed: int) -> NDArray[np.int64]:
    """A fold number per snapshot: advocates shuffled with `seed`, dealt round-robin."""
    unique = np.unique(groups)
    dealt = np.empty(len(unique), dtype=np.int64)
    dealt[np.random.default_rng(seed).permutation(len(unique))] = np.arange(len(unique)) % folds
    return dealt[np.searchsorted(unique, groups)]


def _model(strength: float) -> LogisticRegression:
    return LogisticRegression(C=strength, solver="newton-cholesky", max_iter=100, tol=1e-8)


def _train(x: NDArray[np.float64], y: NDArray[np.bool_], strength: float) -> LogisticRegression:
    model = _model(strength)
    with warnings.catch_warnings():
        # a separable fold stops at max_iter: its estimate is still the best found
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def _log_loss(model: LogisticRegression, x: NDArray[np.float64],
              y: NDArray[np.bool_]) -> float:
    p = np.clip(model.predict_proba(x)[:, 1], 1e-12, 1 - 1e-12)
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


FoldFits = list[tuple[NDArray[np.bool_], dict[str, float]]]


def choose_strength(data: Observations, fold: NDArray[np.int64]) -> tuple[float, FoldFits]:
    """The strength with the lowest held-out log loss over the folds, and per fold its
    held-out rows and the coefficients fitted without them at that strength."""
    best: tuple[float, float, FoldFits] | None = None
    for strength in STRENGTHS:
        total, fits = 0.0, []
        for k in np.unique(fold):
            train, test = fold != k, fold == k
            model = _train(data.shares[train], data.outcome[train], strength)
            total += _log_loss(model, data.shares[test], data.outcome[test]) * test.sum()
            fits.append((test, dict(zip(data.signals, map(float, model.coef_[0]), strict=True))))
        if best is None or total < best[0]:
            best = (total, strength, fits)
    assert best is not None
    return best[1], best[2]


def fit(data: Observations, strength: float, *, alpha: float = 0.05) -> Fit:
    """Fit on every snapshot; standard errors from the penalised sandwich, by advocate."""
    model = _train(data.shares, data.outcome, strength)
    beta = model.coef_[0]
    x = np.column_stack([np.ones(data.count), data.shares])
    p = model.predict_proba(data.shares)[:, 1]
    weight = p * (1 - p)
    penalty = np.eye(x.shape[1]) / strength
    penalty[0, 0] = 0.0  # the intercept is not penalised
    bread = np.linalg.pinv((x * weight[:, None]).T @ x + penalty)
    scores = x * (data.outcome - p)[:, None]
    order = np.argsort(data.groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(data.groups[order]) != 0])
    by_advocate = np.add.reduceat(scores[order], starts, axis=0)
    covariance = bread @ (by_advocate.T @ by_advocate) @ bread
    errors = np.sqrt(np.clip(np.diag(covariance)[1:], 0.0, None))
    varies = data.shares.std(axis=0) > 0
    effects = []
    for i, key in enumerate(data.signals):
        coefficient, error = float(beta[i]), float(errors[i])
        if varies[i] and error > 0:
            p_value = math.erfc(abs(coefficient / error) / math.sqrt(2))
        else:
            p_value = 1.0
        effects.append(SignalEffect(key, coefficient, error if varies[i] else float("nan"),
                                    p_value, bool(varies[i]) and p_value < alpha / len(
                                        data.signals), bool(varies[i])))
    return Fit(float(model.intercept_[0]), tuple(effects), strength)
