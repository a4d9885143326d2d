"""Structured logs: JSON lines, context extras, and redaction of secrets and emails."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from connector.config import Settings
from connector.logs import Redactor, configure_logging, wants_json

SECRETS = Settings(
    hubspot_access_token="pat-na1-11111111-2222-3333-4444-555555555555",
    hubspot_client_secret="client-secret-abcdef",
    dashboard_token="dash-token-xyz",
    workflow_webhook_key="workflow-key-123",
    log_format="json",
)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stderr: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.getvalue().splitlines() if line.strip()]


def test_json_line_carries_contact_and_event(root_logger, monkeypatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    configure_logging(SECRETS)
    logging.getLogger("connector.worker").info(
        "re-scored %d contacts", 3, extra={"contact_id": "101", "event_id": "9001"}
    )
    [entry] = lines(stderr)
    assert entry["message"] == "re-scored 3 contacts"
    assert entry["contact_id"] == "101"
    assert entry["event_id"] == "9001"
    assert entry["level"] == "info"
    assert entry["logger"] == "connector.worker"


def test_secrets_and_emails_never_reach_the_output(root_logger, monkeypatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    configure_logging(SECRETS)
    log = logging.getLogger("connector.test")
    log.warning(
        "calling with token %s for jane.doe+vip@example.co.uk",
        SECRETS.hubspot_access_token,
        extra={"contact_id": "7", "detail": {"secret": "client-secret-abcdef",
                                             "emails": ["bob@corp.example.com"]}},
    )
    log.info("dashboard login with %s, workflow key workflow-key-123", "dash-token-xyz")
    try:
        raise ValueError("bad contact alice@example.org")
    except ValueError:
        log.exception("failed")
    out = stderr.getvalue()
    for leaked in ("pat-na1-1111", "client-secret-abcdef", "dash-token-xyz", "workflow-key-123",
                   "jane.doe", "bob@corp", "alice@example.org", "example.co.uk"):
        assert leaked not in out
    first, second, third = lines(stderr)
    assert first["message"] == "calling with token [secret] for [email]"
    assert first["detail"] == {"secret": "[secret]", "emails": ["[email]"]}
    assert second["message"] == "dashboard login with [secret], workflow key [secret]"
    assert "ValueError: bad contact [email]" in str(third["exception"])


def test_text_format_is_readable(root_logger, monkeypatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    configure_logging(Settings(log_format="text"))
    logging.getLogger("connector.sync").info("pass done", extra={"contact_id": "5"})
    line = stderr.getvalue().strip()
    assert line.endswith("INFO    connector.sync: pass done  contact_id=5")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_configuring_twice_keeps_one_handler(root_logger) -> None:
    configure_logging(SECRETS)
    configure_logging(SECRETS)
    assert [h.get_name() for h in root_logger.handlers].count("connector") == 1


def test_auto_format_follows_the_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    auto = Settings(log_format="auto")
    assert wants_json(auto, io.StringIO())
    assert not wants_json(auto, Tty())
    assert wants_json(Settings(log_format="json"), Tty())


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["abc", None, ""]).text("abc def") == "abc def"


def test_the_web_app_configures_logging_when_no_cli_did(tmp_path) -> None:
    # gunicorn imports create_app directly: its logs must be JSON and redacted too
    script = (
        "import logging\n"
        "from connector.config import Settings\n"
        "from connector.cli.wiring import create_app\n"
        f"create_app(Settings(log_format='json', database_url='sqlite:///{tmp_path}/c.db',"
        " hubspot_client_secret='client-secret-abcdef'))\n"
        "logging.getLogger('connector.web').warning('bad signature from a@b.example with "
        "client-secret-abcdef', extra={'event_id': '42'})\n"
    )
    err = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60).stderr
    [entry] = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert entry["message"] == "bad signature from [email] with [secret]"
    assert entry["event_id"] == "42"
