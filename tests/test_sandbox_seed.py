"""Seed data: deterministic, realistic in counts, correlated, with some malformed values."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from connector.cli.sandbox import sandbox as sandbox_command
from connector.sandbox.seed import DAY_MS, generate_contacts
from connector.sandbox.values import parse_time_ms

NOW = datetime(2026, 3, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def days_ago(value: str | None) -> float | None:
    ms = parse_time_ms(value) if value else None
    return None if ms is None else (NOW_MS - ms) / DAY_MS


def is_happy(p: dict[str, str]) -> bool:
    """The "happy customer" profile of the brief, checked on the values themselves."""
    def number(name: str) -> float:
        try:
            return float(p.get(name, ""))
        except ValueError:
            return -1
    survey, opened = days_ago(p.get("hs_feedback_last_survey_date")), days_ago(
        p.get("hs_email_last_open_date"))
    customer_for = days_ago(p.get("hs_lifecyclestage_customer_date"))
    return (p.get("hs_feedback_last_nps_rating") in ("9", "10")
            and survey is not None and survey <= 180
            and 15 <= number("product_logins_30d") <= 40
            and 3 <= number("success_milestones_reached") <= 8
            and 4 <= number("support_csat_score") <= 5
            and opened is not None and opened <= 30
            and customer_for is not None and customer_for > 182
            and number("open_support_escalations") == 0
            and p.get("hs_email_optout") != "true")


def test_same_seed_same_portal_other_seed_other_portal() -> None:
    first = list(generate_contacts(300, 11, NOW))
    assert first == list(generate_contacts(300, 11, NOW))
    assert first != list(generate_contacts(300, 12, NOW))


def test_distribution_in_counts() -> None:
    rows = list(generate_contacts(4000, 7, NOW))
    stages = Counter(r["lifecyclestage"] for r in rows)
    customers = [r for r in rows if r["lifecyclestage"] in ("customer", "evangelist")]
    assert 0.40 * 4000 <= stages["customer"] <= 0.50 * 4000
    assert 40 <= stages["evangelist"] <= 200
    assert sum(stages[s] for s in ("subscriber", "lead", "marketingqualifiedlead",
                                   "salesqualifiedlead", "opportunity", "other")) >= 1800
    assert len({r["email"] for r in rows}) == 4000
    assert all(r["email"] == r["email"].lower() for r in rows)
    domains = Counter(r["email"].rsplit("@", 1)[1] for r in rows)
    assert domains["gmail.com"] + domains["outlook.com"] > 200
    assert 10 <= domains["mailinator.com"] + domains["guerrillamail.com"] <= 100
    # At least a quarter of customers are happy; promoters dominate the answered NPS
    happy = [r for r in customers if is_happy(r)]
    assert len(happy) >= 0.25 * len(customers)
    answered = [r for r in customers if r.get("hs_feedback_last_nps_rating", "").isdigit()]
    assert 0.5 * len(customers) <= len(answered) <= 0.85 * len(customers)
    promoters = sum(1 for r in answered if int(r["hs_feedback_last_nps_rating"]) >= 9)
    detractors = sum(1 for r in answered if int(r["hs_feedback_last_nps_rating"]) <= 6)
    assert promoters > 0.45 * len(answered) and 0.1 * len(answered) < detractors
    # Every guardrail is tripped by some customers
    recent_detractors = [r for r in customers if r.get("hs_feedback_last_nps_rating", "x")
                         .isdigit() and int(r["hs_feedback_last_nps_rating"]) <= 6
                         and (days_ago(r.get("hs_feedback_last_survey_date")) or 999) < 90]
    escalated = [r for r in customers if r.get("open_support_escalations") in ("1", "2")]
    opted_out = [r for r in customers if r.get("hs_email_optout") == "true"]
    assert min(len(recent_detractors), len(escalated), len(opted_out)) >= 0.03 * len(customers)
    assert all(r.get("hs_lifecyclestage_customer_date") for r in customers)
    assert all(r.get("total_revenue", "").isdigit() for r in customers)
    # About 1% malformed values
    malformed = [r for r in rows if r.get("product_logins_30d") == "abc"
                 or r.get("hs_feedback_last_survey_date") == "not-a-date"
                 or r.get("hs_feedback_last_nps_rating") == "N/A"]
    assert 0.005 * 4000 <= len(malformed) <= 0.02 * 4000
    # Every date is in the past
    assert all(parse_time_ms(r["lastmodifieddate"]) <= NOW_MS for r in rows)  # type: ignore


@pytest.mark.slow
def test_100000_contacts_seed_in_seconds() -> None:
    started = time.monotonic()
    count = sum(1 for _ in generate_contacts(100_000, 7, NOW))
    assert count == 100_000
    assert time.monotonic() - started < 15


def test_cli_help_names_every_option() -> None:
    result = CliRunner().invoke(sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--contacts", "--seed", "--access-token", "--client-secret",
                   "--webhook-url", "--rate-limit-per-10s", "--search-rate-per-s",
                   "--search-lag-s"):
        assert option in result.output
