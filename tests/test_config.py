"""Settings are read once, validated, and never show secrets."""

import subprocess
import sys

import pytest

from connector.config import ConfigError, Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///connector.db"
    assert settings.rate_limit_per_10s == 100
    assert settings.search_rate_per_s == 4.0
    assert settings.hubspot_base_url == "https://api.hubapi.com"


def test_postgres_url_uses_psycopg() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgres://u:pw@db/app"})
    assert settings.database_url == "postgresql+psycopg://u:pw@db/app"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUBSPOT_RATE_LIMIT_PER_10S", "many"),
        ("HUBSPOT_RATE_LIMIT_PER_10S", "0"),
        ("HUBSPOT_SEARCH_RATE_PER_S", "-1"),
        ("HUBSPOT_BASE_URL", "ftp://x"),
        ("CONNECTOR_PUBLIC_URL", "not a url"),
        ("LOG_FORMAT", "xml"),
        ("DASHBOARD_SESSION_HOURS", "eight"),
        ("DASHBOARD_SESSION_HOURS", "0"),
        ("PORT", "http"),
        ("CONNECTOR_DB_PRE_PING", "maybe"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({name: value})
    message = str(excinfo.value)
    assert message.startswith(name)
    assert "\n" not in message


def test_web_settings_are_read_once() -> None:
    settings = Settings.from_env({"DASHBOARD_SESSION_HOURS": "2.5", "PORT": "9000",
                                  "CONNECTOR_DB_PRE_PING": "0",
                                  "PROMETHEUS_MULTIPROC_DIR": "/run/metrics"})
    assert settings.dashboard_session_hours == 2.5
    assert settings.port == 9000
    assert settings.db_pre_ping is False
    assert settings.prometheus_multiproc_dir == "/run/metrics"


def test_secrets_never_in_repr() -> None:
    settings = Settings.from_env(
        {"HUBSPOT_ACCESS_TOKEN": "pat-na1-secret", "HUBSPOT_CLIENT_SECRET": "cs-secret",
         "DATABASE_URL": "postgresql://u:dbpass@h/db", "DASHBOARD_TOKEN": "dash-secret"}
    )
    text = repr(settings) + str(settings)
    for secret in ("pat-na1-secret", "cs-secret", "dbpass", "dash-secret"):
        assert secret not in text


def test_bad_variable_stops_cli_with_one_line(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "db", "upgrade"],
        env={"HUBSPOT_RATE_LIMIT_PER_10S": "lots", "PATH": ""}, capture_output=True, text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: HUBSPOT_RATE_LIMIT_PER_10S='lots' is not a whole number; set it to e.g. 100"
    ]
