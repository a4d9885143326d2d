"""One holder per scheduled pass: PostgreSQL advisory locks, or a process-local lock on SQLite."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

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
