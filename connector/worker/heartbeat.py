"""The worker's heartbeat: while a batch is worked on, its leases are renewed in the background,
so leases can be short: a SIGKILLed worker's events are due again within one lease, and a live
worker's batch is never taken from it however long HubSpot takes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

log = logging.getLogger(__name__)

BEATS_PER_LEASE = 3  # two beats may fail (database busy, a blip) before the lease runs out


@contextmanager
def heartbeat(renew: Callable[[], object], lease: timedelta) -> Iterator[None]:
    """Call `renew` every lease / 3 in a thread until the block ends."""
    stopped = threading.Event()
    every_s = max(lease.total_seconds() / BEATS_PER_LEASE, 0.05)

    def beat() -> None:
        while not stopped.wait(every_s):
            try:
                renew()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("could not renew the batch's lease: %s", type(exc).__name__)

    thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=every_s + 5)
