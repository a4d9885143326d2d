"""`connector score <id or email> [--explain]`: with a fake gateway, then live on the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import cli
from connector.config import Settings
from connector.hubspot.gateway import Contact
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.scoring.mapping import load_mapping

TODAY = datetime.now(UTC)


def ago(days: float) -> str:
    return (TODAY - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


ADVOCATE = {
    "lifecyclestage": "customer", "hs_feedback_last_nps_rating": "10",
    "hs_feedback_last_survey_date": ago(12), "product_logins_30d": "24",
    "success_milestones_reached": "6", "support_csat_score": "5",
    "hs_email_last_open_date": ago(1), "hs_lifecyclestage_customer_date": ago(800),
    "hs_email_optout": "false", "open_support_escalations": "1",
    "social_mentions_90d": "lots",
}


class FakeGateway:
    """Answers get_contact from a dict and remembers what was asked."""

    def __init__(self, contacts: dict[str, Contact]) -> None:
        self.contacts = contacts
        self.asked: list[tuple[str, list[str]]] = []

    def get_contact(self, id_or_email: str, properties: Sequence[str]) -> Contact | None:
        self.asked.append((id_or_email, list(properties)))
        return self.contacts.get(id_or_email)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeGateway:
    fake = FakeGateway({"501": Contact(id="501", properties=dict(ADVOCATE))})
    monkeypatch.setattr(Runtime, "gateway", property(lambda self: fake))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    return fake


def test_prints_score_tier_and_reasons(gateway: FakeGateway) -> None:
    result = CliRunner().invoke(cli, ["score", "501"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("contact 501: score ")
    assert lines[0].endswith("tier excluded")
    assert lines[1] == ("reasons: NPS 10 (+30); 24 logins in 30 days (+20); "
                        "support CSAT 5/5 (+15); open escalation (excluded)")
    assert lines[2] == "data quality: social_mentions_90d: not a number"
    # it asked HubSpot for exactly what the mapping reads
    assert gateway.asked == [("501", load_mapping(Settings().mapping_path).properties)]


def test_explain_shows_every_signal_and_guardrail(gateway: FakeGateway) -> None:
    result = CliRunner().invoke(cli, ["score", "501", "--explain"])
    assert result.exit_code == 0, result.output
    out = result.output
    header = next(line for line in out.splitlines() if line.startswith("signal"))
    assert header.split() == ["signal", "property", "raw", "transform", "points", "note"]
    usage = next(line for line in out.splitlines() if line.startswith("product_usage"))
    assert usage.split()[:5] == ["product_usage", "product_logins_30d", "24", "saturating", "20"]
    assert "/ 20" in usage and "24 logins in 30 days" in usage
    clicks = next(line for line in out.splitlines() if line.startswith("email_clicks"))
    assert clicks.split()[2] == "-" and clicks.endswith("missing")
    social = next(line for line in out.splitlines() if line.startswith("social_mentions"))
    assert social.endswith("social_mentions_90d: not a number")
    escalation = next(line for line in out.splitlines() if line.startswith("open_escalation"))
    assert escalation.split()[:2] == ["open_escalation", "APPLIES"]
    opt_out = next(line for line in out.splitlines() if line.startswith("email_opt_out"))
    assert opt_out.split()[:2] == ["email_opt_out", "no"]


def test_unknown_contact_is_one_line_and_exit_1(gateway: FakeGateway) -> None:
    result = CliRunner().invoke(cli, ["score", "nobody@example.com"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no HubSpot contact has that id or email"
    assert "nobody@example.com" not in result.output


def test_bad_mapping_is_one_line_and_exit_2(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "signals.yaml"
    bad.write_text("signals:\n  nps: {property: x, transform: nps, weight: lots}\n")
    monkeypatch.setenv("CONNECTOR_MAPPING", str(bad))
    result = CliRunner().invoke(cli, ["score", "501"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}: signals.nps.weight: must be a number, not 'lots'")


@pytest.mark.slow
def test_scores_a_sandbox_contact_over_http(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    [contact_id] = sandbox.portal.seed([{"email": "ada@example.com", **ADVOCATE}])
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sandbox-token")
    monkeypatch.setenv("HUBSPOT_BASE_URL", sandbox.url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    runner = CliRunner()
    by_id = runner.invoke(cli, ["score", str(contact_id)])
    assert by_id.exit_code == 0, by_id.output
    assert f"contact {contact_id}: score " in by_id.output
    assert "open escalation (excluded)" in by_id.output
    by_email = runner.invoke(cli, ["score", "ada@example.com", "--explain"])
    assert by_email.exit_code == 0, by_email.output
    assert by_email.output.splitlines()[0] == by_id.output.splitlines()[0]
    assert "product_logins_30d" in by_email.output
    missing = runner.invoke(cli, ["score", "999999999"])
    assert missing.exit_code == 1
    assert "no HubSpot contact has that id or email" in missing.output
