"""Shared fixtures: databases (SQLite and PostgreSQL), settings, runtime.

Each area may add fixtures in a `tests/fixtures_<area>.py` module; they load here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from connector.config import Settings
from connector.db.models import Base
from connector.db.session import make_engine
from connector.runtime import Runtime

pytest_plugins = sorted(p.stem for p in Path(__file__).parent.glob("fixtures_*.py"))

PG_ADMIN_URL = os.environ.get(
    "CONNECTOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CONNECTOR_REQUIRE_POSTGRES") == "1"


def _postgres_unavailable(reason: str) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL is required (CONNECTOR_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"connector_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unavailable"
        admin.dispose()
        _postgres_unavailable(str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_database_url: str) -> Iterator[Engine]:
    """A PostgreSQL engine with empty tables."""
    engine = make_engine(pg_database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'connector.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A SQLite engine (a file, as in production) with empty tables."""
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """Settings for tests: fake secrets, the sandbox defaults, a temporary SQLite file."""
    return Settings(
        hubspot_access_token="test-token",
        hubspot_client_secret="test-secret",
        hubspot_base_url="http://127.0.0.1:1",
        public_url="http://connector.test",
        database_url=sqlite_url,
        rate_limit_per_10s=10_000,
        search_rate_per_s=1_000.0,
        dashboard_token="dashboard-token",
        workflow_webhook_key="workflow-key",
    )


@pytest.fixture
def runtime(settings: Settings, sqlite_engine: Engine) -> Runtime:
    """A runtime on the SQLite test database."""
    return Runtime(settings, engine=sqlite_engine)
