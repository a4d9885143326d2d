"""Engines and sessions for the connector's database (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pre_ping: bool = True) -> Engine:
    """An engine for the URL; SQLite gets WAL and a busy timeout so web and worker can share it.

    PostgreSQL connections are pinged on checkout unless `pre_ping` is False
    (CONNECTOR_DB_PRE_PING=0): the web process turns it off (a round trip per request),
    recycles connections after 5 minutes and retries its one statement on a dropped connection.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # deleted and overwritten content is zeroed, not left in free space (erasure)
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=pre_ping, pool_recycle=300, pool_size=5,
                         max_overflow=5)


def is_postgres(engine: Engine) -> bool:
    """True when the database is PostgreSQL (row locks, advisory locks, shared limiter)."""
    return engine.dialect.name == "postgresql"


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory every part of the connector uses."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with sessions() as session, session.begin():
        yield session
