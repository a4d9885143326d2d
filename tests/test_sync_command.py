"""`connector sync` end to end: the closing summary, the dry-run sample, the stored summary."""

from __future__ import annotations

import logging
import sys

import pytest
from click.testing import CliRunner
from fixtures_sync import SyncSetup
from sqlalchemy import select

from connector.cli import cli
from connector.cli import sync as commands
from connector.db.models import SyncCursor
from connector.sync.summary import SyncSummary


def _env(handle_url: str, database_url: str) -> dict[str, str]:
    return {"HUBSPOT_BASE_URL": handle_url, "HUBSPOT_ACCESS_TOKEN": "sandbox-token",
            "DATABASE_URL": database_url, "HUBSPOT_RATE_LIMIT_PER_10S": "10000",
            "HUBSPOT_SEARCH_RATE_PER_S": "1000", "LOG_FORMAT": "text"}


def test_sync_command_prints_the_summary_and_dry_run_a_sample(
    sync_setup: SyncSetup, sqlite_url: str,
) -> None:
    handle, runtime = sync_setup()
    env = _env(handle.url, sqlite_url)
    runner = CliRunner()
    dry = runner.invoke(cli, ["sync", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "full sync (dry run): 50 contacts read" in dry.output
    assert "50 would be written" in dry.output
    assert "advocate_readiness_score" in dry.output  # the sample of diffs
    assert handle.stats()["writes"] == 0
    real = runner.invoke(cli, ["sync", "--full"], env=env)
    assert real.exit_code == 0, real.output
    assert "50 written" in real.output and "HubSpot API calls: " in real.output
    assert "excluded: " in real.output
    with runtime.sessions() as session:
        cursor = session.scalar(select(SyncCursor).where(SyncCursor.name == "full"))
        assert cursor is not None and cursor.last_success_at is not None
        assert cursor.last_summary and cursor.last_summary["written"] == 50


def test_sync_command_fails_with_one_line_without_a_token(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["sync"], env={"DATABASE_URL": sqlite_url,
                                                    "HUBSPOT_ACCESS_TOKEN": ""})
    assert result.exit_code == 2
    assert "HUBSPOT_ACCESS_TOKEN" in result.output


def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    summary = SyncSummary(read=400, changed=12, written=12)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with commands._progress() as update:
        update(summary)  # a live rich bar; must not raise
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.setattr(commands, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="connector.cli.sync"), \
            commands._progress() as update:
        update(summary)
    assert "400 contacts read, 12 changed, 12 written" in caplog.text
