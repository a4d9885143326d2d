"""Waking an idle worker when webhook events are stored: PostgreSQL LISTEN on the channel the
inbox's INSERT trigger notifies when the receiver's statement commits (`db.models.INBOX_CHANNEL`).
The poll stays as the fallback: an idle worker looks again after `idle_sleep_s` in any case
(SQLite, a lost connection, events retried later by their backoff)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from connector.db.models import INBOX_CHANNEL

log = logging.getLogger(__name__)

RETRY_CONNECT_S = 30.0  # after a lost LISTEN connection, poll only for a while
STOP_CHECK_S = 0.5


class InboxWakeup:
    """`wait(seconds)`: sleep until events are stored, a stop, or the time is up."""

    def __init__(self, engine: Engine, stop: threading.Event) -> None:
        self._engine = engine
        self._stop = stop
        self._conn: Any = None
        self._listening = engine.dialect.name == "postgresql"
        self._retry_at = 0.0

    def _connect(self) -> Any:
        if self._conn is not None or not self._listening or time.monotonic() < self._retry_at:
            return self._conn
        try:
            # a connection of its own, outside the pool: it waits for as long as the worker runs
            cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
            conn = self._engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
            conn.autocommit = True
            conn.execute(f"LISTEN {INBOX_CHANNEL}")
        except Exception as exc:  # noqa: BLE001 - the poll carries on meanwhile
            log.warning("cannot LISTEN for new webhook events (%s); polling",
                        type(exc).__name__)
            self._retry_at = time.monotonic() + RETRY_CONNECT_S
            return None
        self._conn = conn
        return conn

    def start(self) -> None:
        """LISTEN now, before the first look at the inbox: nothing stored after it is missed."""
        self._connect()

    def wait(self, seconds: float) -> bool:
        """True when woken by new events, False after `seconds` (or on a stop)."""
        conn = self._connect()
        if conn is None:
            self._stop.wait(seconds)
            return False
        try:
            deadline = time.monotonic() + seconds
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # in slices, so a stop (SIGTERM) is seen within STOP_CHECK_S
                woken = bool(list(conn.notifies(timeout=min(left, STOP_CHECK_S),
                                                stop_after=1)))
                if woken:
                    for _ in conn.notifies(timeout=0):  # several stored at once wake it once
                        pass
                    return True
            return False
        except Exception as exc:  # noqa: BLE001 - reconnect later; the poll carries on
            log.warning("lost the LISTEN connection (%s); polling", type(exc).__name__)
            self.close()
            return False

    def close(self) -> None:
        """Drop the LISTEN connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001,S110 - it is gone either way
                pass
            self._conn = None
