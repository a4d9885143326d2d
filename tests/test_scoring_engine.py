"""Readiness scoring on examples: NPS parsing and bands, dates, guardrails, malformed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.config import PROJECT_ROOT
from connector.scoring.engine import score_contact
from connector.scoring.mapping import Mapping, load_mapping
from connector.scoring.model import TIERS, Contribution, ReadinessScore

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DEFAULT_MAPPING = PROJECT_ROOT / "mappings" / "signals.yaml"


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping(DEFAULT_MAPPING)


def iso(days_ago: float) -> str:
    """An instant `days_ago` before NOW, as HubSpot's v3 API writes datetimes."""
    moment = NOW - timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def customer(**overrides: str | None) -> dict[str, str | None]:
    """A customer with no other signal; overrides add properties."""
    props: dict[str, str | None] = {"lifecyclestage": "customer", "hs_email_optout": "false"}
    props.update(overrides)
    return props


def points_of(readiness: ReadinessScore, signal: str) -> float:
    return next((c.points for c in readiness.contributions if c.signal == signal), 0.0)


def nps(mapping: Mapping, rating: object, days_ago: float | None = 10) -> ReadinessScore:
    props: dict[str, object] = dict(customer())
    if rating is not None:
        props["hs_feedback_last_nps_rating"] = rating
    if days_ago is not None:
        props["hs_feedback_last_survey_date"] = iso(days_ago)
    return score_contact(props, mapping, NOW)


def test_nps_as_string_number_and_float_string_score_alike(mapping: Mapping) -> None:
    scores = {repr(r): nps(mapping, r).score for r in ("9", 9, "9.0", " 9 ", 9.0)}
    assert len(set(scores.values())) == 1, scores
    assert nps(mapping, "9").score == 27  # 0.9 of NPS's 30 points


def test_missing_nps_is_absent_not_passive(mapping: Mapping) -> None:
    missing = nps(mapping, None)
    assert missing.score == 0
    assert missing.tier == "not_ready"
    assert missing.data_quality_issues == []
    assert "NPS" not in missing.reasons


@pytest.mark.parametrize("label", ["9 - Extremely likely", "9", "Promoter"])
def test_nps_enumeration_labels_parse(mapping: Mapping, label: str) -> None:
    assert nps(mapping, label).score == 27


def test_nps_band_boundaries(mapping: Mapping) -> None:
    by_rating = {r: nps(mapping, str(r), days_ago=200).score for r in range(11)}
    old = {r: nps(mapping, str(r), days_ago=10) for r in (6, 7, 8, 9, 10)}
    # 6 is a detractor: no points, and a recent one is excluded
    assert by_rating[6] == 0 and by_rating[0] == 0
    assert old[6].tier == "excluded" and old[6].guardrails == ["detractor in the last 90 days"]
    # 7-8 passive, 9-10 promoter: each band above the last, higher within a band not lower
    assert 0 < by_rating[7] <= by_rating[8] < by_rating[9] <= by_rating[10]
    assert old[7].tier != "excluded"
    assert [old[r].score for r in (7, 8, 9, 10)] == [12, 15, 27, 30]


def test_old_detractor_is_not_excluded(mapping: Mapping) -> None:
    readiness = nps(mapping, "3", days_ago=120)
    assert readiness.tier != "excluded"


def test_undated_detractor_is_excluded(mapping: Mapping) -> None:
    readiness = nps(mapping, "2", days_ago=None)
    assert readiness.tier == "excluded"
    assert "detractor in the last 90 days (excluded)" in readiness.reasons


def test_stale_survey_counts_less(mapping: Mapping) -> None:
    fresh = nps(mapping, "10", days_ago=30)
    year = nps(mapping, "10", days_ago=365)
    two_years = nps(mapping, "10", days_ago=730)
    assert fresh.score == 30
    assert fresh.score > year.score > two_years.score > 0
    assert "old survey" in year.reasons and "old survey" not in fresh.reasons


def test_rating_without_survey_date_counts_half(mapping: Mapping) -> None:
    assert nps(mapping, "10", days_ago=None).score == 15


@pytest.mark.parametrize(
    ("prop", "value", "issue"),
    [
        ("product_logins_30d", "abc", "product_logins_30d: not a number"),
        ("product_logins_30d", "-4", "product_logins_30d: below 0"),
        ("product_logins_30d", "nan", "product_logins_30d: not a finite number"),
        ("support_csat_score", "9", "support_csat_score: outside 1-5"),
        ("hs_email_last_open_date", "2025-13-45", "hs_email_last_open_date: not a date"),
        ("hs_lifecyclestage_customer_date", "yesterday", "hs_lifecyclestage_customer_date: "
                                                         "not a date"),
        ("hs_feedback_last_nps_rating", "N/A", "hs_feedback_last_nps_rating: not an NPS "
                                               "rating 0-10"),
        ("hs_feedback_last_nps_rating", "11", "hs_feedback_last_nps_rating: not an NPS "
                                              "rating 0-10"),
        ("open_support_escalations", "lots", "open_support_escalations: not a number"),
    ],
)
def test_malformed_value_is_absent_and_reported(
    mapping: Mapping, prop: str, value: str, issue: str
) -> None:
    readiness = score_contact(customer(**{prop: value}), mapping, NOW)
    assert readiness.score == 0
    assert readiness.tier == "not_ready"
    assert readiness.data_quality_issues == [issue]
    assert value not in " ".join(readiness.data_quality_issues).replace(prop, "")


def test_blank_values_are_missing_not_malformed(mapping: Mapping) -> None:
    readiness = score_contact(customer(product_logins_30d="", support_csat_score="  ",
                                       hs_email_last_open_date=None), mapping, NOW)
    assert readiness.data_quality_issues == []
    assert readiness.score == 0


def test_one_malformed_signal_leaves_the_others(mapping: Mapping) -> None:
    good = customer(product_logins_30d="20", success_milestones_reached="5")
    broken = {**good, "success_milestones_reached": "five"}
    assert score_contact(good, mapping, NOW).score == 30
    assert score_contact(broken, mapping, NOW).score == 20


@pytest.mark.parametrize("spelling", [
    "2025-05-02T12:00:00.000Z", "2025-05-02T12:00:00Z", "2025-05-02T14:00:00+02:00",
    "2025-05-02", "1746187200000",
])
def test_dates_in_every_hubspot_spelling(mapping: Mapping, spelling: str) -> None:
    readiness = score_contact(customer(hs_email_last_open_date=spelling), mapping, NOW)
    assert readiness.data_quality_issues == []
    # about 30 days, one half-life: half of the 5 points
    assert points_of(readiness, "email_opens") == pytest.approx(2.5, abs=0.1)


def test_slightly_future_date_reads_as_today(mapping: Mapping) -> None:
    soon = (NOW + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    readiness = score_contact(customer(hs_email_last_open_date=soon), mapping, NOW)
    assert readiness.data_quality_issues == []
    assert readiness.score == 5
    assert "opened an email today (+5)" in readiness.reasons


def test_far_future_date_is_malformed(mapping: Mapping) -> None:
    later = (NOW + timedelta(days=30)).strftime("%Y-%m-%d")
    readiness = score_contact(customer(hs_lifecyclestage_customer_date=later), mapping, NOW)
    assert readiness.score == 0
    assert readiness.data_quality_issues == [
        "hs_lifecyclestage_customer_date: date more than a day in the future"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"lifecyclestage": "lead"}, "not a customer"),
        ({"lifecyclestage": None}, "not a customer"),
        ({"hs_feedback_last_nps_rating": "4", "hs_feedback_last_survey_date": iso(20)},
         "detractor in the last 90 days"),
        ({"open_support_escalations": "2"}, "open escalation"),
        ({"hs_email_optout": "true"}, "email opt-out"),
        ({"hs_email_optout": "TRUE"}, "email opt-out"),
    ],
)
def test_each_guardrail_excludes_with_its_reason(
    mapping: Mapping, overrides: dict[str, str | None], reason: str
) -> None:
    props = champion_props()
    props.update(overrides)
    readiness = score_contact(props, mapping, NOW)
    assert readiness.tier == "excluded"
    assert readiness.guardrails == [reason]
    assert readiness.reasons.endswith(f"{reason} (excluded)")


def test_evangelists_are_customers_and_zero_escalations_are_fine(mapping: Mapping) -> None:
    props = champion_props()
    props.update(lifecyclestage="evangelist", open_support_escalations="0")
    assert score_contact(props, mapping, NOW).tier == "champion"


def champion_props() -> dict[str, str | None]:
    return customer(
        hs_feedback_last_nps_rating="10", hs_feedback_last_survey_date=iso(20),
        product_logins_30d="24", success_milestones_reached="6", support_csat_score="5",
        hs_email_last_open_date=iso(2), hs_email_last_click_date=iso(5),
        hs_lifecyclestage_customer_date="2023-01-15", social_mentions_90d="1",
        open_support_escalations="0",
    )


def test_reasons_read_like_the_contact_record(mapping: Mapping) -> None:
    props = champion_props()
    props["open_support_escalations"] = "1"
    readiness = score_contact(props, mapping, NOW)
    assert readiness.reasons == (
        "NPS 10 (+30); 24 logins in 30 days (+20); support CSAT 5/5 (+15); "
        "open escalation (excluded)"
    )
    # the score stays visible so the marketer sees how ready they are once it is resolved
    assert readiness.score >= 80
    assert [c.signal for c in readiness.contributions] == [
        "nps", "product_usage", "support_health"]
    assert readiness.contributions[1] == Contribution(
        signal="product_usage", property="product_logins_30d", raw="24", points=20.0,
        text="24 logins in 30 days (+20)")


def test_reasons_are_deterministic_on_ties(mapping: Mapping) -> None:
    props = customer(product_logins_30d="10", success_milestones_reached="5")
    first = score_contact(props, mapping, NOW).reasons
    reordered = dict(reversed(list(props.items())))
    assert score_contact(reordered, mapping, NOW).reasons == first
    # equal points: mapping order (usage before milestones)
    assert first == "10 logins in 30 days (+10); 5 success milestones (+10)"


def test_no_signals_says_so(mapping: Mapping) -> None:
    assert score_contact(customer(), mapping, NOW).reasons == "no readiness signals yet"


def test_result_is_a_complete_readiness_score(mapping: Mapping) -> None:
    readiness = score_contact(champion_props(), mapping, NOW)
    assert isinstance(readiness, ReadinessScore)
    assert readiness.tier in TIERS
    rebuilt = ReadinessScore(readiness.score, readiness.tier, readiness.reasons,
                             readiness.contributions, readiness.guardrails,
                             readiness.data_quality_issues)
    assert rebuilt == readiness
    for contribution in readiness.contributions:
        assert contribution == Contribution(**vars(contribution))
    with pytest.raises(AttributeError):
        readiness.score = 1  # type: ignore[misc]


def test_naive_now_is_utc(mapping: Mapping) -> None:
    props = champion_props()
    naive = score_contact(props, mapping, NOW.replace(tzinfo=None))
    assert naive == score_contact(props, mapping, NOW)


def test_default_mapping_reads_the_agreed_property_names(tmp_path: Path) -> None:
    assert load_mapping(DEFAULT_MAPPING).properties == sorted([
        "lifecyclestage", "hs_lifecyclestage_customer_date", "hs_feedback_last_nps_rating",
        "hs_feedback_last_survey_date", "hs_email_last_open_date", "hs_email_last_click_date",
        "hs_email_optout", "product_logins_30d", "success_milestones_reached",
        "social_mentions_90d", "open_support_escalations", "support_csat_score",
    ])


def test_same_day_scores_are_identical_and_the_next_day_may_decay(mapping: Mapping) -> None:
    def at(hour: int, day: int = 1) -> datetime:
        return datetime(2025, 6, day, hour, tzinfo=UTC)

    # a survey, an email open and a customer date whose exact ages drift within the day
    props = customer(hs_feedback_last_nps_rating="10",
                     hs_feedback_last_survey_date="2024-08-20T15:31:07.123Z",
                     hs_email_last_open_date="2025-05-20T22:10:00.000Z",
                     hs_lifecyclestage_customer_date="2025-03-03T08:00:00.000Z")
    morning, evening = score_contact(props, mapping, at(9)), score_contact(props, mapping, at(17))
    assert morning == evening
    later = [score_contact(props, mapping, at(9, day)) for day in (2, 12)]
    assert later[0].reasons != morning.reasons  # a day older: "12 days ago" -> "13 days ago"
    assert later[1].score < morning.score  # ten more days of decay


def test_ages_count_whole_utc_days(mapping: Mapping) -> None:
    late_yesterday = customer(hs_email_last_open_date="2025-05-31T23:59:00.000Z")
    readiness = score_contact(late_yesterday, mapping, datetime(2025, 6, 1, 0, 1, tzinfo=UTC))
    assert "opened an email yesterday" in readiness.reasons
    tomorrow = customer(hs_email_last_open_date="2025-06-02")
    readiness = score_contact(tomorrow, mapping, datetime(2025, 6, 1, 0, 1, tzinfo=UTC))
    assert "opened an email today" in readiness.reasons
    assert readiness.data_quality_issues == []
