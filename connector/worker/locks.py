"""One holder per scheduled pass: PostgreSQL advisory locks, or a process-local lock on SQLite;
and one run per interval: the start of each pass is recorded, whichever clock started it."""

from __future__ import annotations

import logging
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector.db.models import PassStart
from connector.db.session import is_postgres

log = logging.getLogger(__name__)

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_try_advisory_lock`, from the pass name."""
    return zlib.crc32(f"advocate-connector:pass:{name}".encode())


@contextmanager
def pass_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True while this process holds the lock for `name`, False when another holds it.

    On PostgreSQL a session-level advisory lock on a dedicated connection: it spans processes
    and hosts and is released by PostgreSQL if the process dies.
    """
    if not is_postgres(engine):
        with _local_lock(name) as held:
            yield held
        return
    key = lock_key(name)
    with engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
                    .scalar())
        conn.commit()  # the lock is session-level; no transaction needs to stay open
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()


def start_pass(engine: Engine, name: str, *, within: timedelta, now: datetime) -> bool:
    """Record that `name` starts now, unless it started less than `within` ago (then False).

    Conditional statements decide, so two clocks asking at once start the pass once (on
    PostgreSQL the row lock, on SQLite the database's write lock, serialises them).
    """
    started_by = f"{socket.gethostname()}:{os.getpid()}"[:120]
    with engine.begin() as conn:
        moved = conn.execute(
            update(PassStart)
            .where(PassStart.name == name, PassStart.started_at <= now - within)
            .values(started_at=now, started_by=started_by)
        ).rowcount
        if moved:
            return True
        first = (postgresql_insert if is_postgres(engine) else sqlite_insert)(PassStart)
        created = conn.execute(
            first.values(name=name, started_at=now, started_by=started_by)
            .on_conflict_do_nothing(index_elements=["name"]).returning(PassStart.name)
        ).first()
        return created is not None
