"""The mapping file: a bad one fails with one line naming the file, the key and the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.config import PROJECT_ROOT
from connector.errors import UserError
from connector.scoring.engine import score_contact
from connector.scoring.mapping import Mapping, MappingError, load_mapping

DEFAULT = yaml.safe_load((PROJECT_ROOT / "mappings" / "signals.yaml").read_text())
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "signals.yaml"
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    path.write_text(text)
    return path


def changed(path: str, value: Any) -> dict[str, Any]:
    """The default mapping with one dotted key set (value ... deletes it)."""
    document = yaml.safe_load(yaml.safe_dump(DEFAULT))
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return document


def error_for(tmp_path: Path, document: Any) -> str:
    path = write(tmp_path, document)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: "):]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("signals.nps.weight", "high", "signals.nps.weight: must be a number, not 'high'"),
        ("signals.nps.weight", True, "signals.nps.weight: must be a number, not a yes/no"),
        ("signals.nps.weight", -5, "signals.nps.weight: must be at least 0, not -5"),
        ("signals.nps.weight", ..., "signals.nps.weight: missing"),
        ("signals.nps.property", ..., "signals.nps.property: missing"),
        ("signals.nps.transform", "sigmoid",
         "signals.nps.transform: unknown transform 'sigmoid' (use boolean, days_since, enum, "
         "nps, range, recency, saturating)"),
        ("signals.product_usage.target", 0,
         "signals.product_usage.target: must be above 0, not 0"),
        ("signals.product_usage.tagret", 5, "signals.product_usage.tagret: unknown key"),
        ("signals.product_usage.text", "{count} logins",
         "signals.product_usage.text: unknown placeholder {count} (use {value})"),
        ("signals.support_health.high", 1,
         "signals.support_health.high: must be above low (1), not 1"),
        ("signals.nps.missing", "neutral",
         "signals.nps.missing: 'neutral' is not one of absent, passive"),
        ("signals.nps.scale", {7: 0.8, 8: 0.5},
         "signals.nps.scale.8: must not be below rating 7's share"),
        ("signals.nps.survey_date.half_life_days", ...,
         "signals.nps.survey_date.half_life_days: missing"),
        ("tiers.ready", 85, "tiers.ready: thresholds must descend: 85 is not below champion's 80"),
        ("tiers.nurture", 60, "tiers.nurture: thresholds must descend: 60 is not below ready's 60"),
        ("tiers.champion", 120, "tiers.champion: must be at most 100, not 120"),
        ("tiers.ready", ..., "tiers.ready: missing"),
        ("tiers.gold", 90,
         "tiers.gold: unknown tier (use champion, ready, nurture, not_ready)"),
        ("tiers.excluded", 10,
         "tiers.excluded: excluded comes from the guardrails, not from a threshold"),
        ("guardrails.open_escalation.reason", ..., "guardrails.open_escalation.reason: missing"),
        ("guardrails.open_escalation.above", "zero",
         "guardrails.open_escalation.above: must be a number, not 'zero'"),
        ("guardrails.open_escalation.below", 1,
         "guardrails.open_escalation: needs exactly one of in, not_in, equals, above, "
         "at_least, below, at_most, found 2"),
        ("guardrails.not_a_customer.not_in", "customer",
         "guardrails.not_a_customer.not_in: must be a non-empty list"),
        ("guardrails.recent_detractor.within_days.days", "ninety",
         "guardrails.recent_detractor.within_days.days: must be a number, not 'ninety'"),
        ("reasons.max_chars", 5000, "reasons.max_chars: must be at most 900, not 5000"),
        ("version", 2, "version: this connector reads version 1, not 2"),
        ("colour", "blue", "colour: unknown key"),
        ("signals", {}, "signals: declare at least one signal"),
        ("signals", None, "signals: must be a mapping of keys to values, not empty"),
    ],
)
def test_bad_mapping_names_key_and_problem(
    tmp_path: Path, key: str, value: Any, expected: str
) -> None:
    assert error_for(tmp_path, changed(key, value)) == expected


def test_enum_values_must_be_shares(tmp_path: Path) -> None:
    document = changed("signals.plan", {"property": "plan_tier", "transform": "enum",
                                        "weight": 5, "values": {"gold": 2}})
    assert error_for(tmp_path, document) == "signals.plan.values.gold: must be at most 1, not 2"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    assert error_for(tmp_path, "signals:\n  nps: [unclosed\n").startswith("not valid YAML at line")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert error_for(tmp_path, "") == "the mapping file is empty"
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "nowhere.yaml")


def test_mapping_error_is_a_user_error() -> None:
    assert issubclass(MappingError, UserError)


def test_default_mapping_loads_and_weights_add_to_100() -> None:
    mapping = load_mapping(PROJECT_ROOT / "mappings" / "signals.yaml")
    assert sum(s.points for s in mapping.signals) == pytest.approx(100)
    assert [t for _, t in mapping.thresholds] == ["champion", "ready", "nurture"]
    assert mapping.tier_for(80) == "champion" and mapping.tier_for(79) == "ready"
    assert mapping.tier_for(40) == "nurture" and mapping.tier_for(39) == "not_ready"


def test_relative_weights_scale_to_100(tmp_path: Path) -> None:
    document = {
        "signals": {
            "logins": {"property": "logins", "transform": "saturating", "target": 10,
                       "weight": 3},
            "vip": {"property": "vip", "transform": "boolean", "weight": 1,
                    "text": "VIP {value}"},
        },
        "tiers": {"champion": 90, "ready": 70, "nurture": 50},
    }
    mapping = load_mapping(write(tmp_path, document))
    assert mapping.properties == ["logins", "vip"]
    assert score_contact({"logins": "10"}, mapping, NOW).score == 75
    vip = score_contact({"logins": "10", "vip": "true"}, mapping, NOW)
    assert (vip.score, vip.tier) == (100, "champion")
    assert vip.reasons == "10 logins (+75); VIP yes (+25)"


def test_enum_and_boolean_transforms(tmp_path: Path) -> None:
    document = {
        "signals": {
            "plan": {"property": "plan", "transform": "enum", "weight": 10,
                     "values": {"Enterprise": 1.0, "Pro": 0.5, "Free": 0}},
            "beta": {"property": "beta_tester", "transform": "boolean", "weight": 10,
                     "when_false": 0.2},
        },
        "tiers": {"champion": 80, "ready": 60, "nurture": 40},
    }
    mapping: Mapping = load_mapping(write(tmp_path, document))
    assert score_contact({"plan": "pro", "beta_tester": "false"}, mapping, NOW).score == 35
    unknown = score_contact({"plan": "Platinum", "beta_tester": "maybe"}, mapping, NOW)
    assert unknown.score == 0
    assert unknown.data_quality_issues == [
        "plan: not one of Enterprise, Pro, Free", "beta_tester: not true or false"]


def test_passive_when_missing_option(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, changed("signals.nps.missing", "passive")))
    readiness = score_contact({"lifecyclestage": "customer"}, mapping, NOW)
    assert readiness.score == 12  # a 7: 0.4 of 30
    assert readiness.data_quality_issues == []
