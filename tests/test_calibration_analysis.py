"""The calibration analysis on generated snapshots whose truth is known: ranking, intervals,
the fit, the verdict and the proposed mapping file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from connector.calibration.analysis import MIN_POSITIVES, calibrate
from connector.calibration.observations import Observations, most_points, scores_of
from connector.calibration.proposal import ProposalError, proposed_mapping, proposed_weights
from connector.calibration.ranking import auc, auc_interval, rates_by_band, rates_by_decile
from connector.config import PROJECT_ROOT
from connector.scoring.mapping import Mapping, load_mapping

DEFAULT_MAPPING = PROJECT_ROOT / "mappings" / "signals.yaml"


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping(DEFAULT_MAPPING)


def generated(mapping: Mapping, n: int, seed: int, effects: dict[str, float],
              intercept: float = -2.5) -> Observations:
    """Snapshots with uniform shares; the outcome's log-odds is `intercept` plus `effects`
    per unit of share; one to three snapshots per advocate."""
    rng = np.random.default_rng(seed)
    keys = tuple(s.key for s in mapping.signals)
    shares = rng.random((n, len(keys)))
    logit = intercept + sum(shares[:, keys.index(k)] * v for k, v in effects.items())
    outcome = rng.random(n) < 1 / (1 + np.exp(-logit))
    groups = np.repeat(np.arange(n), rng.integers(1, 4, n))[:n]
    return Observations(keys, shares, outcome, groups)


def test_auc_of_integer_scores_counts_ties_half() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(50, 70, 500)  # many ties
    outcome = rng.random(500) < (scores - 45) / 40
    assert auc(scores, outcome) == pytest.approx(roc_auc_score(outcome, scores), abs=1e-12)
    assert np.isnan(auc(scores, np.zeros(500, dtype=bool)))


def test_the_interval_holds_the_auc_and_widens_with_fewer_advocates() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(40, 100, 2000)
    outcome = rng.random(2000) < scores / 200
    each = np.arange(2000)
    low, high = auc_interval(scores, outcome, each, seed=1)
    assert low < auc(scores, outcome) < high
    assert auc_interval(scores, outcome, each, seed=1) == (low, high)  # fixed seed
    # the same snapshots from 200 advocates of 10 near-identical asks each: less evidence
    copies = np.repeat(np.arange(200), 10)
    clustered = np.repeat(scores[:200], 10)
    repeated = np.repeat(outcome[:200], 10)
    c_low, c_high = auc_interval(clustered, repeated, copies, seed=1)
    s_low, s_high = auc_interval(clustered, repeated, np.arange(2000), seed=1)
    assert c_high - c_low > 2 * (s_high - s_low)


def test_rates_by_band_and_decile() -> None:
    scores = np.array([95, 85, 70, 65, 50, 10])
    outcome = np.array([True, True, True, False, False, False])
    bands = rates_by_band(scores, outcome, [(80.0, "champion"), (60.0, "ready"),
                                            (40.0, "nurture")])
    assert [(b.label, b.count, b.positives) for b in bands] == [
        ("champion", 2, 2), ("ready", 2, 1), ("nurture", 1, 0), ("not_ready", 1, 0)]
    deciles = rates_by_decile(scores, outcome, parts=3)
    assert [d.rate for d in deciles] == [0.0, 0.5, 1.0]


def test_a_known_truth_is_found_and_the_proposal_beats_the_default(mapping: Mapping) -> None:
    data = generated(mapping, 6000, seed=11, effects={"nps": 2.5, "success_milestones": 2.0})
    result = calibrate(mapping, data, outcome="referred", seed=0)
    assert result.significant
    ranked = sorted(result.fit.effects, key=lambda e: -e.coefficient)  # type: ignore[union-attr]
    assert {e.signal for e in ranked[:2]} == {"nps", "success_milestones"}
    assert all(e.significant for e in ranked[:2])
    assert not any(e.significant for e in ranked[2:])
    assert result.proposal is not None
    assert sum(result.proposal.values()) == sum(s.weight for s in mapping.signals)
    assert result.proposal["nps"] > 30 and result.proposal["success_milestones"] > 10
    assert result.proposal["social_mentions"] <= 2
    held = result.held_out
    assert held is not None and held.proposed > held.current + 0.03
    assert "proposed" in result.verdict and "not applied" in result.verdict
    as_json = result.as_json()
    assert as_json["signals"][0]["rank"] == 1
    low, high = as_json["signals"][0]["across_folds"]  # the top signal in every fold's fit
    assert 1.5 < low <= as_json["signals"][0]["coefficient"] <= high
    assert as_json["ranking"]["rises_with_score"] is True


def test_random_outcomes_find_nothing_significant(mapping: Mapping) -> None:
    data = generated(mapping, 3000, seed=12, effects={}, intercept=-1.5)
    result = calibrate(mapping, data, outcome="referred", seed=0)
    assert data.positives >= MIN_POSITIVES
    assert not result.significant
    assert result.ranking is not None and not result.ranking.significant
    assert result.proposal is None
    assert "nothing significant" in result.verdict
    assert result.as_json()["proposal"] is None


def test_below_the_minimum_it_says_how_many_and_proposes_nothing(mapping: Mapping) -> None:
    data = generated(mapping, 400, seed=13, effects={"nps": 2.0}, intercept=-5.0)
    assert data.positives < MIN_POSITIVES
    result = calibrate(mapping, data, outcome="converted")
    assert result.proposal is None and result.fit is None
    assert f"{data.positives} snapshots with the outcome `converted`" in result.verdict
    assert f"at least {MIN_POSITIVES}" in result.verdict


def test_weights_are_rescaled_to_the_total_and_never_negative(mapping: Mapping) -> None:
    weights = proposed_weights({"nps": 3.0, "success_milestones": 1.0, "social_mentions": -2.0},
                               mapping)
    assert sum(weights.values()) == 100
    assert weights["nps"] == 75 and weights["success_milestones"] == 25
    assert weights["social_mentions"] == 0
    assert all(float(w).is_integer() for w in weights.values())
    assert proposed_weights({"nps": -1.0}, mapping) == {}
    # scores under the proposal are what the proposed mapping would give
    points = most_points(mapping, [s.key for s in mapping.signals], weights)
    assert points[0] == 75.0
    assert scores_of(np.array([[1.0] + [0.0] * 7]), points)[0] == 75


def test_the_proposed_mapping_file_changes_weights_only(mapping: Mapping,
                                                        tmp_path: Path) -> None:
    text = DEFAULT_MAPPING.read_text()
    weights = proposed_weights({"nps": 2.0, "success_milestones": 1.5, "tenure": 0.5}, mapping)
    written = proposed_mapping(text, mapping, weights, auc_current=0.61, auc_proposed=0.7,
                               outcome="referred", today=date(2026, 1, 2))
    path = tmp_path / "proposed.yaml"
    path.write_text(written)
    loaded = load_mapping(path)  # what `connector score` and `sync` load
    assert {s.key: s.weight for s in loaded.signals} == weights
    assert loaded.signals_version == mapping.signals_version  # shares mean the same
    before, after = yaml.safe_load(text), yaml.safe_load(written)
    for section in ("guardrails", "tiers", "reasons"):
        assert before[section] == after[section]
    assert "calibrated (was 30)" in written
    assert written.startswith("# Weights proposed by `connector calibrate --outcome referred`")
    assert "held-out AUC 0.610 with the current weights, 0.700 with these" in written
    # comments elsewhere are kept
    assert "Van den Bulte" in written


def test_a_proposal_that_would_not_load_is_refused(mapping: Mapping) -> None:
    with pytest.raises(ProposalError):
        proposed_mapping(DEFAULT_MAPPING.read_text(), mapping, {"nps": -5.0},
                         auc_current=0.5, auc_proposed=0.6, outcome="referred",
                         today=date(2026, 1, 2))
