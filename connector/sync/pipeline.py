"""Read page k+1 while page k is written: the search and burst budgets are separate limiters."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(pages: Iterator[T], ahead: int = 1) -> Iterator[T]:
    """Yield `pages` read by a background thread at most `ahead` pages past the one in use.

    The reader asks for a page only once a slot frees, so memory stays flat and a crash
    leaves at most `ahead` pages read but not processed.
    """
    slots = threading.Semaphore(ahead + 1)
    handoff: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def reader() -> None:
        try:
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                page = next(pages, _DONE)
                handoff.put(page)
                if page is _DONE:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
            handoff.put(_Failed(exc))

    thread = threading.Thread(target=reader, name="sync-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
            slots.release()  # the consumer finished this page: the reader may fetch one more
    finally:
        stop.set()
        slots.release()
        thread.join()
