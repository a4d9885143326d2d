"""`connector report`: tables on a terminal, one JSON object with --json, periods by date."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session
from test_demo import printed
from test_report_numbers import add_review_holds_and_retries

from connector.cli import cli
from connector.db.models import RewardLedger


@pytest.fixture
def run(program_sqlite, sqlite_url, monkeypatch):
    """Invoke the CLI against the seeded SQLite database."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LOG_FORMAT", "text")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_json_report(run) -> None:
    result = run("report", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["referrals"]["made"] == 3
    assert report["funnel"]["invited"] == 4
    assert report["period"]["since"] is None


def test_until_includes_the_whole_day(run) -> None:
    # counted referrals were attributed on 2026-02-25, 2026-03-04 and 2026-03-11, at noon
    report = json.loads(run("report", "--json", "--until", "2026-03-04").output)
    assert report["referrals"]["made"] == 2
    report = json.loads(run("report", "--json", "--since", "2026-03-05").output)
    assert report["referrals"]["made"] == 1


def test_tables_for_a_terminal(run) -> None:
    result = run("report")
    assert result.exit_code == 0, result.output
    for words in ("Journey (advocates)", "Referrals made", "Conversion rate", "66.7%",
                  "Rejected: unknown_code", "Top advocates", "CODE1",
                  "Rewards waiting for approval", "over the monthly cap", "Inbox backlog",
                  "Other customers retained", "n/a"):
        assert words in result.output, words


def test_bad_period_is_one_line(run) -> None:
    result = CliRunner().invoke(cli, ["report", "--since", "2026-03-05", "--until", "2026-03-01"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --until is before --since"


def test_an_empty_sqlite_database_is_migrated_and_reported(tmp_path, monkeypatch) -> None:
    # on PostgreSQL the same says to run `connector db upgrade` (test_operator_failures.py)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code == 0, result.output
    assert "Journey (advocates)" in result.output


def test_tables_show_review_held_payable_and_no_retry_pass(run, program_sqlite) -> None:
    add_review_holds_and_retries(program_sqlite)
    out = run("report").output
    assert printed(out, "In fraud review") == 2
    assert printed(out, "  review: disposable email domain mailinator.com") == 2
    assert printed(out, "  held: inside the hold period") == 2
    assert printed(out, "  payable: hold over, to pay out") == 1
    assert printed(out, "  granted before hold periods") == 2
    assert printed(out, "earned (granted)") == 5
    assert printed(out, "Writes to retry at the next sync") == 2
    assert "Sync `retry`" not in out and "Sync `incremental`" in out
    data = json.loads(run("report", "--json").output)
    assert data["review"]["count"] == 2
    assert data["rewards_granted_by_state"]["payable"]["count"] == 1
    assert data["connector"]["retry_backlog"] == 2


def test_legacy_granted_row_only_when_there_are_such_rewards(run, program_sqlite) -> None:
    with Session(program_sqlite.engine) as session, session.begin():
        session.execute(update(RewardLedger).where(RewardLedger.status == "granted")
                        .values(status="payable"))
    out = run("report").output
    assert "granted before hold periods" not in out
    assert printed(out, "  payable: hold over, to pay out") == 2
