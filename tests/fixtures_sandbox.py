"""Sandbox fixtures: a local HubSpot over real HTTP for integration tests.

`sandbox`: ~50 seeded contacts, limits high enough never to slow a test down.
`make_sandbox(**overrides)`: the same with any `SandboxConfig` field changed.
Both stop their servers (and webhook senders) at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.sandbox.server import SandboxConfig, SandboxHandle, run_in_thread

FAST_LIMITS: dict[str, Any] = {
    "contacts": 50,
    "seed": 7,
    "rate_limit_per_10s": 100_000,
    "search_rate_per_s": 10_000,
    "daily_limit": 10_000_000,
    "search_lag_s": 0.0,
    "webhook_interval_s": 0.05,
    "webhook_retry_base_s": 0.05,
}


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxHandle]]:
    """A factory: make_sandbox(**SandboxConfig overrides) -> a running SandboxHandle."""
    started: list[SandboxHandle] = []

    def make(**overrides: Any) -> SandboxHandle:
        handle = run_in_thread(SandboxConfig(**{**FAST_LIMITS, **overrides}))
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxHandle]) -> SandboxHandle:
    """A running sandbox with ~50 seeded contacts and generous limits."""
    return make_sandbox()
