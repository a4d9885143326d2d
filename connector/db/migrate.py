"""Apply the Alembic migrations (`connector db upgrade`, the Procfile's release line)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from connector.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at `migrations/` and the given database."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision`."""
    command.upgrade(alembic_config(database_url), revision)
