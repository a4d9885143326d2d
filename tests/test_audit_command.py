"""`connector audit <contact id>`: the writes made to a contact, and nothing personal after
an erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fixtures_program import ProgramHarness

from connector.cli import audit as commands
from connector.cli import cli
from connector.db.models import AuditLog
from connector.db.session import transaction
from connector.program import hooks

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def audited(program_harness: ProgramHarness, monkeypatch: pytest.MonkeyPatch) -> ProgramHarness:
    monkeypatch.setattr(commands, "build_runtime", lambda: program_harness.runtime)
    with transaction(program_harness.runtime.sessions) as session:
        session.add_all([
            AuditLog(contact_id="7", action="write", reason="sync:full", created_at=T0,
                     changes={"advocacy_score": [None, "80"], "advocacy_tier": [None, "ready"]}),
            AuditLog(contact_id="7", action="write", reason="outbox",
                     created_at=T0 + timedelta(days=1),
                     changes={"referral_note": ["", "Ask Jo Example"]}),
            AuditLog(contact_id="8", action="write", reason="sync:full", created_at=T0,
                     changes={"advocacy_score": [None, "10"]}),
        ])
    return program_harness


def test_audit_prints_each_write_with_before_after_and_reason(audited: ProgramHarness) -> None:
    result = CliRunner().invoke(cli, ["audit", "7"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2025-03-01 09:00:00  write  (sync:full)"
    assert "    advocacy_score: (empty) -> 80" in lines
    assert "    referral_note: (empty) -> Ask Jo Example" in lines
    assert "10" not in result.output  # contact 8's write is not shown


def test_audit_json_and_limit(audited: ProgramHarness) -> None:
    result = CliRunner().invoke(cli, ["audit", "7", "--json", "--limit", "1"])
    document = json.loads(result.output)
    assert document["erased"] is False
    [write] = document["writes"]
    assert write["reason"] == "outbox"
    assert write["changes"] == {"referral_note": {"before": "", "after": "Ask Jo Example"}}


def test_after_erasure_the_audit_shows_no_values(audited: ProgramHarness) -> None:
    with transaction(audited.runtime.sessions) as session:
        hooks.on_contact_removed(session, audited.runtime, "7", "contact.privacyDeletion",
                                 None, T0 + timedelta(days=2))
    result = CliRunner().invoke(cli, ["audit", "7"])
    assert "erased on request" in result.output and "Jo Example" not in result.output
    erased = [a.changes for a in audited.rows(AuditLog) if a.contact_id.startswith("erased-")]
    assert erased == [{"advocacy_score": [None, None], "advocacy_tier": [None, None]},
                      {"referral_note": [None, None]}]  # which properties, not their values
    assert all("Jo Example" not in json.dumps(a.changes) for a in audited.rows(AuditLog))
