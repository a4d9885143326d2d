"""Each signal's share on the score, and the mapping's versions: what calibration stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.config import PROJECT_ROOT
from connector.scoring.engine import score_contact
from connector.scoring.mapping import load_mapping

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DEFAULT_MAPPING = PROJECT_ROOT / "mappings" / "signals.yaml"


def iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_every_signal_has_its_share_and_no_raw_value() -> None:
    mapping = load_mapping(DEFAULT_MAPPING)
    readiness = score_contact({
        "lifecyclestage": "customer", "hs_feedback_last_nps_rating": "10",
        "hs_feedback_last_survey_date": iso(10), "product_logins_30d": "10",
        "social_mentions_90d": "abc",  # malformed: absent, share 0
    }, mapping, NOW)
    shares = readiness.signal_shares()
    assert list(shares) == [s.key for s in mapping.signals]
    assert shares["nps"] == 1.0
    assert shares["product_usage"] == 0.5
    assert shares["social_mentions"] == 0.0
    assert shares["success_milestones"] == 0.0
    # the score is the shares times each signal's most points
    total = sum(shares[s.key] * s.points for s in mapping.signals)
    assert readiness.score == int(total + 0.5)
    assert all(isinstance(v, float) for v in shares.values())
    assert readiness.basis is not None
    assert readiness.basis.mapping_version == mapping.version


def test_small_shares_are_kept_even_when_too_small_for_a_reason() -> None:
    mapping = load_mapping(DEFAULT_MAPPING)
    readiness = score_contact({"lifecyclestage": "customer", "hs_email_last_open_date": iso(300)},
                              mapping, NOW)
    share = readiness.signal_shares()["email_opens"]
    assert 0.0 < share < 0.01  # half-life 30 days: a 300-day-old open is worth 0.1% of 5 points
    assert "opened" not in readiness.reasons


def test_versions_follow_the_content_not_the_comments(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING.read_text()
    base = load_mapping(DEFAULT_MAPPING)
    commented = tmp_path / "commented.yaml"
    commented.write_text("# a note\n" + text)
    reweighted = tmp_path / "reweighted.yaml"
    reweighted.write_text(text.replace("weight: 30", "weight: 40", 1))
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(text.replace("target: 20", "target: 25", 1))
    again = load_mapping(commented)
    assert (again.version, again.signals_version) == (base.version, base.signals_version)
    changed = load_mapping(reweighted)
    # new weights: a new mapping, but the shares still mean the same
    assert changed.version != base.version
    assert changed.signals_version == base.signals_version
    # a new target: the shares of logins mean something else
    assert load_mapping(stricter).signals_version != base.signals_version
