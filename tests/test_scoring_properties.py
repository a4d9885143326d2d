"""Property-based: any input scores 0-100 without raising; positive signals never lower the
score; guardrails always exclude; and the default weights put typical customers where
practice says they belong (calibration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.config import PROJECT_ROOT
from connector.scoring.engine import score_contact
from connector.scoring.mapping import load_mapping
from connector.scoring.model import TIERS
from connector.scoring.values import Malformed, age_days, as_text, is_blank, utc_day

MAPPING = load_mapping(PROJECT_ROOT / "mappings" / "signals.yaml")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def spelled(days_ago: float, spelling: int) -> str:
    """An instant `days_ago` before NOW in one of HubSpot's spellings."""
    moment = NOW - timedelta(days=days_ago)
    if spelling == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if spelling == 1:
        return moment.strftime("%Y-%m-%d")
    return str(int(moment.timestamp() * 1000))


dates = st.builds(spelled, st.floats(-400, 20_000), st.integers(0, 2))
junk = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["9.0", "N/A", "true", "FALSE", "customer", "evangelist", "", " ",
                     "1e999", "-0", "10 - Extremely likely", "Promoter", "2025-02-30",
                     "99999999999999999999999", "²", "0x10", "1_000"]),
    dates,
    st.integers(-(10**15), 10**15),
    st.booleans(),
)
contacts = st.dictionaries(
    st.one_of(st.sampled_from(MAPPING.properties), st.text(max_size=10)), junk, max_size=20
)


@settings(max_examples=300, deadline=None)
@given(contacts)
def test_any_properties_score_within_bounds_and_never_raise(props: dict[str, Any]) -> None:
    readiness = score_contact(props, MAPPING, NOW)
    assert 0 <= readiness.score <= 100
    assert isinstance(readiness.score, int)
    assert readiness.tier in TIERS
    assert (readiness.tier == "excluded") == bool(readiness.guardrails)
    assert 0 < len(readiness.reasons) <= MAPPING.max_reason_chars
    assert all(": " in issue for issue in readiness.data_quality_issues)


# a valid contact: every signal present or missing, values in their sensible ranges
valid_contacts = st.fixed_dictionaries({}, optional={
    "lifecyclestage": st.sampled_from(["customer", "evangelist", "lead", "opportunity"]),
    "hs_lifecyclestage_customer_date": st.builds(spelled, st.floats(0, 3000),
                                                 st.integers(0, 2)),
    "hs_feedback_last_nps_rating": st.integers(0, 10).map(str),
    "hs_feedback_last_survey_date": st.builds(spelled, st.floats(0, 1000), st.integers(0, 2)),
    "hs_email_last_open_date": st.builds(spelled, st.floats(0, 1000), st.integers(0, 2)),
    "hs_email_last_click_date": st.builds(spelled, st.floats(0, 1000), st.integers(0, 2)),
    "hs_email_optout": st.sampled_from(["true", "false"]),
    "product_logins_30d": st.integers(0, 200).map(str),
    "success_milestones_reached": st.integers(0, 20).map(str),
    "social_mentions_90d": st.integers(0, 20).map(str),
    "open_support_escalations": st.integers(0, 3).map(str),
    "support_csat_score": st.floats(1, 5).map(lambda v: f"{v:.1f}"),
})


def score(props: dict[str, str]) -> int:
    return score_contact(props, MAPPING, NOW).score


@settings(max_examples=120, deadline=None)
@given(valid_contacts, st.sampled_from(["product_logins_30d", "success_milestones_reached",
                                        "social_mentions_90d"]),
       st.integers(0, 100), st.integers(0, 100))
def test_more_of_a_count_never_lowers_the_score(
    base: dict[str, str], prop: str, low: int, extra: int
) -> None:
    assert score({**base, prop: str(low)}) <= score({**base, prop: str(low + extra)})


@settings(max_examples=120, deadline=None)
@given(valid_contacts, st.integers(0, 10), st.integers(0, 10))
def test_a_higher_nps_never_lowers_the_score(base: dict[str, str], a: int, b: int) -> None:
    low, high = sorted((a, b))
    prop = "hs_feedback_last_nps_rating"
    assert score({**base, prop: str(low)}) <= score({**base, prop: str(high)})


@settings(max_examples=120, deadline=None)
@given(valid_contacts, st.sampled_from(["hs_email_last_open_date", "hs_email_last_click_date",
                                        "hs_feedback_last_survey_date"]),
       st.floats(0, 2000), st.floats(0, 2000), st.integers(0, 2))
def test_more_recent_engagement_never_lowers_the_score(
    base: dict[str, str], prop: str, a: float, b: float, spelling: int
) -> None:
    recent, older = sorted((a, b))
    # a detractor's recent survey excludes but must not change the score either
    assert score({**base, prop: spelled(older, spelling)}) <= score(
        {**base, prop: spelled(recent, spelling)})


@settings(max_examples=100, deadline=None)
@given(valid_contacts, st.floats(0, 4000), st.floats(0, 4000))
def test_longer_tenure_never_lowers_the_score(base: dict[str, str], a: float, b: float) -> None:
    shorter, longer = sorted((a, b))
    prop = "hs_lifecyclestage_customer_date"
    assert score({**base, prop: spelled(shorter, 0)}) <= score({**base, prop: spelled(longer, 0)})


@settings(max_examples=100, deadline=None)
@given(valid_contacts, st.floats(1, 5), st.floats(1, 5))
def test_better_csat_never_lowers_the_score(base: dict[str, str], a: float, b: float) -> None:
    low, high = sorted((a, b))
    prop = "support_csat_score"
    assert score({**base, prop: repr(low)}) <= score({**base, prop: repr(high)})


guardrail_triggers = st.sampled_from([
    {"lifecyclestage": "lead"},
    {"lifecyclestage": "subscriber"},
    {"hs_email_optout": "true"},
    {"open_support_escalations": "1"},
    {"hs_feedback_last_nps_rating": "6", "hs_feedback_last_survey_date": spelled(30, 0)},
    {"hs_feedback_last_nps_rating": "0.0", "hs_feedback_last_survey_date": spelled(89, 1)},
])


@settings(max_examples=120, deadline=None)
@given(valid_contacts, guardrail_triggers)
def test_guardrails_always_exclude(base: dict[str, str], trigger: dict[str, str]) -> None:
    readiness = score_contact({**base, **trigger}, MAPPING, NOW)
    assert readiness.tier == "excluded"
    assert readiness.guardrails
    assert readiness.reasons.endswith("(excluded)")


def customer_with(
    nps: st.SearchStrategy[int], survey_days: tuple[float, float],
    logins: tuple[int, int], milestones: tuple[int, int], csat: tuple[float, float],
    opened_days: tuple[float, float], tenure_days: tuple[float, float],
) -> st.SearchStrategy[dict[str, str]]:
    """Customers whose signals fall in the given ranges; no escalation, no opt-out."""
    return st.fixed_dictionaries({
        "lifecyclestage": st.sampled_from(["customer", "evangelist"]),
        "hs_email_optout": st.just("false"),
        "open_support_escalations": st.just("0"),
        "hs_feedback_last_nps_rating": nps.map(str),
        "hs_feedback_last_survey_date": st.builds(spelled, st.floats(*survey_days),
                                                  st.integers(0, 2)),
        "product_logins_30d": st.integers(*logins).map(str),
        "success_milestones_reached": st.integers(*milestones).map(str),
        "support_csat_score": st.floats(*csat).map(lambda v: f"{v:.1f}"),
        "hs_email_last_open_date": st.builds(spelled, st.floats(*opened_days),
                                             st.integers(0, 2)),
        "hs_lifecyclestage_customer_date": st.builds(spelled, st.floats(*tenure_days),
                                                     st.integers(0, 2)),
    })


happy = customer_with(st.integers(9, 10), (0, 180), (15, 40), (3, 8), (4, 5), (0, 30),
                      (183, 3000))
great = customer_with(st.just(10), (0, 90), (25, 40), (5, 8), (4.8, 5), (0, 7), (365, 3000))
passive = customer_with(st.integers(7, 8), (0, 180), (8, 12), (1, 3), (3, 4), (7, 45),
                        (183, 730))


@settings(max_examples=300, deadline=None)
@given(happy)
def test_a_happy_customer_is_at_least_ready(props: dict[str, str]) -> None:
    readiness = score_contact(props, MAPPING, NOW)
    assert readiness.score >= 60, readiness
    assert readiness.tier in ("ready", "champion")


@settings(max_examples=120, deadline=None)
@given(great)
def test_a_great_customer_is_a_champion(props: dict[str, str]) -> None:
    readiness = score_contact(props, MAPPING, NOW)
    assert readiness.score >= 80, readiness
    assert readiness.tier == "champion"


@settings(max_examples=300, deadline=None)
@given(passive)
def test_a_passive_moderately_active_customer_is_nurture(props: dict[str, str]) -> None:
    readiness = score_contact(props, MAPPING, NOW)
    assert readiness.tier == "nurture", readiness


@settings(max_examples=150, deadline=None)
@given(st.one_of(contacts, valid_contacts))
def test_warm_caches_never_change_a_result(props: dict[str, Any]) -> None:
    fresh = load_mapping(PROJECT_ROOT / "mappings" / "signals.yaml")
    assert score_contact(props, fresh, NOW) == score_contact(props, MAPPING, NOW)


@settings(max_examples=300, deadline=None)
@given(st.one_of(dates, junk))
def test_inline_date_reader_agrees_with_the_careful_parse(raw: Any) -> None:
    signal = next(s for s in MAPPING.signals if s.key == "email_opens")
    issues: list[str] = []
    got = signal.compiled.read({signal.property: raw}, utc_day(NOW), issues)
    text = None if raw is None else as_text(raw)
    try:
        expected = None if text is None or is_blank(text) else age_days(text, utc_day(NOW))
    except Malformed:
        expected = None
        assert issues and issues[0].startswith("hs_email_last_open_date: ")
    if expected is None:
        assert got is None
    else:
        assert got is not None and got[1] == pytest.approx(expected)
        assert got[0] == pytest.approx(0.5 ** (expected / 30))


@settings(max_examples=200, deadline=None)
@given(st.one_of(contacts, valid_contacts), st.floats(0, 86_399.999), st.floats(0, 86_399.999))
def test_a_score_moves_at_most_once_a_day(props: dict[str, Any], first_s: float,
                                          second_s: float) -> None:
    # two syncs on one UTC day see one score, so the second writes nothing
    midnight = datetime(2025, 6, 1, tzinfo=UTC)
    first = score_contact(props, MAPPING, midnight + timedelta(seconds=first_s))
    second = score_contact(props, MAPPING, midnight + timedelta(seconds=second_s))
    assert first == second


def read_one_by_one(props: dict[str, Any], today: float) -> tuple[Any, ...]:
    """What the mapping's generated kernel must return: each reader and check called in turn."""
    issues: list[str] = []
    total, earned, shares = 0.0, [], []
    for index, signal in enumerate(MAPPING.signals):
        read, most = signal.compiled.read, signal.points
        reading = read(props, today, issues)
        shares.append(0.0 if reading is None else reading[0])
        if reading is not None:
            points = reading[0] * most
            total += points
            if points >= 0.5:
                earned.append((-points, index, reading[1]))
    applied = [reason for reason, check in MAPPING.checks if check(props, today, issues)]
    return total, earned, applied, tuple(shares), issues


@settings(max_examples=400, deadline=None)
@given(st.one_of(contacts, valid_contacts))
@example({"hs_feedback_last_nps_rating": "9", "hs_feedback_last_survey_date": spelled(-2, 0)})
@example({"hs_feedback_last_nps_rating": "9.0", "hs_feedback_last_survey_date": spelled(-2, 2)})
@example({"hs_feedback_last_nps_rating": "7", "hs_feedback_last_survey_date": "²"})
@example({"hs_email_last_open_date": spelled(-2, 2), "support_csat_score": "nan"})
@example({"hs_email_last_open_date": "9" * 30, "hs_lifecyclestage_customer_date": "²³"})
@example({"hs_email_last_open_date": "2025-05-01T10:00:00+02:00", "product_logins_30d": True})
def test_the_generated_kernel_reads_as_the_compiled_closures(props: dict[str, Any]) -> None:
    issues: list[str] = []
    total, earned, applied, shares = MAPPING.kernel(props, utc_day(NOW), issues)
    assert (total, earned, applied, shares, issues) == read_one_by_one(props, utc_day(NOW))
    assert all(0.0 <= share <= 1.0 for share in shares)
