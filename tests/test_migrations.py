"""Migrations and models agree: autogenerate finds no difference, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text

from connector.db.migrate import upgrade
from connector.db.models import Base


def _diff_after_upgrade(url: str) -> list[object]:
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return list(diff)


def test_models_match_migrations_on_sqlite(sqlite_url: str) -> None:
    assert _diff_after_upgrade(sqlite_url) == []


def test_models_match_migrations_on_postgres(pg_database_url: str) -> None:
    engine = create_engine(pg_database_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    assert _diff_after_upgrade(pg_database_url) == []


def test_upgrade_creates_every_table(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
