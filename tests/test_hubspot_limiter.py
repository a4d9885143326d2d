"""The rate limiter: sliding-window budgets in memory and shared through PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from connector.config import Settings
from connector.hubspot.limiter import (
    BURST,
    SEARCH,
    Budget,
    MemoryLimiter,
    PostgresLimiter,
    budgets_from_settings,
    build_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_budgets_follow_the_settings(settings: Settings) -> None:
    budgets = budgets_from_settings(replace(settings, rate_limit_per_10s=190,
                                            search_rate_per_s=2.5))
    assert budgets[BURST] == Budget(BURST, 190, 10.0)
    assert budgets[SEARCH].limit == 2 and budgets[SEARCH].window_s == pytest.approx(0.8)


def test_memory_limiter_never_exceeds_the_budget_in_any_window() -> None:
    clock = FakeClock()
    budget = Budget(BURST, 10, 10.0)
    limiter = MemoryLimiter({BURST: budget}, clock=clock, sleep=clock.sleep)
    taken = []
    for _ in range(35):
        limiter.acquire(BURST)
        taken.append(clock.now)
    assert taken[:10] == [1000.0] * 10  # the budget is there to use at once
    assert _max_in_window(taken, 10.0) == 10  # and never more in HubSpot's window
    # 35 calls at 10 per padded window: three full waits
    assert clock.now - 1000.0 == pytest.approx(3 * budget.padded_window_s)


def test_memory_limiter_is_thread_safe() -> None:
    def refuse(seconds: float) -> None:
        raise TimeoutError(seconds)

    # a budget no test outlives: any call past 50 would have to sleep, and sleeping raises
    limiter = MemoryLimiter({BURST: Budget(BURST, 50, 600.0)}, sleep=refuse)
    admitted: list[int] = []

    def worker() -> None:
        for _ in range(10):
            limiter.acquire(BURST)
            admitted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 50
    with pytest.raises(TimeoutError):
        limiter.acquire(BURST)


@pytest.mark.postgres
def test_build_limiter_picks_postgres_when_shared(settings: Settings, pg_engine: Engine) -> None:
    assert isinstance(build_limiter(settings, pg_engine), PostgresLimiter)


def test_build_limiter_stays_in_memory_on_sqlite(settings: Settings,
                                                 sqlite_engine: Engine) -> None:
    assert isinstance(build_limiter(settings, sqlite_engine), MemoryLimiter)


@pytest.mark.postgres
def test_postgres_limiter_shares_one_budget_between_limiters(pg_engine: Engine) -> None:
    budget = Budget(BURST, 20, 1.0)
    # two limiters = two processes' views; threads make them race for the same slots
    limiters = [PostgresLimiter(pg_engine, {BURST: budget}) for _ in range(2)]

    def worker(limiter: PostgresLimiter) -> None:
        for _ in range(12):
            limiter.acquire(BURST)

    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters for _ in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with pg_engine.connect() as conn:
        # slots older than a window are pruned as they go; the last window is still logged
        times = [float(t) for t in conn.execute(
            text("SELECT taken_at FROM rate_limit_slot WHERE bucket = 'burst'")).scalars()]
    # a late wake-up may prune a few more than the window needs: most of it is still there
    assert len(times) >= 15
    assert _max_in_window(times, budget.window_s) <= 20
