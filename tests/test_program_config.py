"""The program file: defaults, validation with file and key, the shipped file loads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connector.config import PROJECT_ROOT
from connector.errors import UserError
from connector.program.config import ProgramConfigError, load_program

MINIMAL = """
enrollment:
  mode: property
  workflows:
    invitation: {trigger_property: t1}
    reminder: {trigger_property: t2}
    friend_signed_up: {trigger_property: t3}
    reward_advocate: {trigger_property: t4}
    reward_friend: {trigger_property: t5}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "program.yaml"
    path.write_text(text)
    return path


def test_shipped_program_loads() -> None:
    program = load_program(PROJECT_ROOT / "workflows" / "program.yaml")
    assert program.min_tier == "ready"
    assert program.reminder_delay_days == 7 and program.reminder_count == 2
    assert program.max_invitations_per_year == 4
    assert program.conversion_stage == "customer"
    assert program.advocate_reward.amount == Decimal(50)
    assert program.cap_max == 5 and program.cap_period == "quarter"
    assert program.landing_page == "https://example.com/refer"
    assert program.name == "advocate-referrals"
    # without a public URL (nothing deployed) the link is the landing page itself
    assert program.link("ABCD2345") == (
        "https://example.com/refer?referred_by_code=ABCD2345&utm_source=referral"
        "&utm_medium=advocate&utm_campaign=advocate-referrals")
    assert program.trigger_properties() == [
        "referral_invitation_trigger", "referral_reminder_trigger",
        "referral_friend_signed_up_trigger", "referral_reward_trigger",
        "referral_friend_reward_trigger", "referral_shared_trigger"]


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    program = load_program(write(tmp_path, MINIMAL))
    assert (program.min_tier, program.reminder_delay_days, program.reminder_count) == (
        "ready", 7, 2)
    assert program.max_invitations_per_year == 4
    assert program.enrollment_mode == "property"


@pytest.mark.parametrize(("text", "key", "problem"), [
    ("invitation: {min_tier: nurture}\n", "invitation.min_tier", "not one of"),
    ("reminders: {delay_days: soon}\n", "reminders.delay_days", "not a whole number"),
    ("reminders: {count: -1}\n", "reminders.count", "below 0"),
    ("invitation: {link_template: 'https://x.test/refer'}\n", "invitation.link_template",
     "{code}"),
    ("landing_page: example.com/refer\n", "landing_page", "http(s) URL"),
    ("landing_page: 'https://x.test/refer#form'\n", "landing_page", "#fragment"),
    ("name: ''\n", "name", "non-empty"),
    ("rewards: {advocate: {amount: lots}}\n", "rewards.advocate.amount", "not a number"),
    ("rewards: {cap: {period: week}}\n", "rewards.cap.period", "not one of"),
    ("conversion: {mode: deal_closed_won, deal_stages: []}\n", "conversion.deal_stages",
     "list of deal stage ids"),
    ("fraud: {same_domain: maybe}\n", "fraud.same_domain", "not one of"),
    ("enrollment: {mode: api}\n", "enrollment.workflows.invitation.workflow_id", "numeric"),
    ("enrollment: {mode: property, workflows: {}}\n",
     "enrollment.workflows.invitation.trigger_property", "trigger property"),
])
def test_a_bad_value_names_file_key_and_problem(tmp_path: Path, text: str, key: str,
                                                 problem: str) -> None:
    path = write(tmp_path, MINIMAL + text if not text.startswith("enrollment") else text)
    with pytest.raises(ProgramConfigError) as caught:
        load_program(path)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert str(path) in message and key in message and problem in message
    assert "\n" not in message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ProgramConfigError, match="file not found"):
        load_program(tmp_path / "nope.yaml")
    with pytest.raises(ProgramConfigError, match="not valid YAML"):
        load_program(write(tmp_path, "a: [1,\n"))
    with pytest.raises(ProgramConfigError, match="expected a mapping"):
        load_program(write(tmp_path, "- 1\n"))


def test_the_share_link_when_deployed_with_a_public_url(tmp_path: Path) -> None:
    program = load_program(write(tmp_path, MINIMAL + "name: spring\n"
                                 "landing_page: 'https://acme.test/refer?lang=en&utm_source=x'\n"))
    deployed = program.deployed(public_url="https://advocate.acme.test/", code_parameter="rbc")
    assert deployed.link("ABCD2345") == "https://advocate.acme.test/r/ABCD2345"
    # the page's own parameters stay; the code and the UTM parameters are the program's
    assert deployed.landing_url("ABCD2345") == (
        "https://acme.test/refer?lang=en&rbc=ABCD2345&utm_source=referral&utm_medium=advocate"
        "&utm_campaign=spring")
    assert deployed.landing_url(None) == (
        "https://acme.test/refer?lang=en&utm_source=referral&utm_medium=advocate"
        "&utm_campaign=spring")


def test_the_old_link_template_still_serves_portals_without_a_public_url(tmp_path: Path) -> None:
    program = load_program(write(tmp_path, MINIMAL + "invitation:\n"
                                 "  link_template: 'https://acme.test/r?code={code}'\n"))
    assert program.deployed(public_url=None, code_parameter="referred_by_code").link(
        "ABCD2345") == "https://acme.test/r?code=ABCD2345"
    # a public URL wins: the share link counts clicks, the template cannot
    assert program.deployed(public_url="https://c.test", code_parameter="referred_by_code").link(
        "ABCD2345") == "https://c.test/r/ABCD2345"


def test_a_program_file_without_the_shared_step_still_loads(tmp_path: Path) -> None:
    program = load_program(write(tmp_path, MINIMAL))
    assert program.workflows["shared"].trigger_property == "referral_shared_trigger"
    api = load_program(write(tmp_path, MINIMAL.replace("mode: property", "mode: api").replace(
        "trigger_property: t", "workflow_id: 10")))
    assert api.workflows["shared"].workflow_id is None
    assert api.workflows["invitation"].workflow_id == "101"


def test_the_report_names_where_referral_revenue_comes_from() -> None:
    import dataclasses

    from connector.program.config import ProgramConfig

    lifecycle = ProgramConfig()
    assert lifecycle.revenue_source == "the referred contact's total_revenue at conversion"
    deals = dataclasses.replace(lifecycle, conversion_mode="deal_closed_won")
    assert deals.revenue_source == "the amount of the deal that converted the referral"


def test_payouts_need_a_campaign_for_tremendous(tmp_path) -> None:
    from connector.config import PROJECT_ROOT
    from connector.program.config import ProgramConfigError, load_program

    shipped = (PROJECT_ROOT / "workflows" / "program.yaml").read_text()
    rest = shipped[:shipped.index("\npayouts:")]
    path = tmp_path / "program.yaml"
    path.write_text(rest + "\npayouts:\n  advocate: {provider: tremendous}\n")
    with pytest.raises(ProgramConfigError, match="payouts.tremendous.campaign_id"):
        load_program(path)
    path.write_text(rest + "\npayouts:\n  advocate: {provider: paypal}\n")
    with pytest.raises(ProgramConfigError, match="payouts.advocate.provider"):
        load_program(path)
    path.write_text(rest + "\npayouts:\n  advocate: {provider: tremendous}\n"
                    "  daily_limit: 250\n  tremendous: {campaign_id: CAMPAIGN1}\n")
    program = load_program(path)
    assert program.payout_providers == {"advocate": "tremendous", "friend": "manual"}
    assert str(program.payout_daily_limit) == "250"
