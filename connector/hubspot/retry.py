"""When a HubSpot call is tried again, how long to wait, and when to give up (tenacity).

HubSpot's rules (https://developers.hubspot.com/docs/api/usage-details): a 429 body names its
`policyName`; `TEN_SECONDLY_ROLLING` frees within the rolling window, the search API's
"secondly limit" within a second, and `DAILY` only at midnight in the portal's time zone.
HubSpot documents no `Retry-After` on API 429s, but we honour one when it is there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from connector.errors import UserError

T = TypeVar("T")

# HubSpot's 500s are mostly transient: retried like 502-504 (never for creates, see below)
SERVER_ERRORS = frozenset({500, 502, 503, 504})
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    # the SDK's generated APIs (urllib3 with its retries off): refused, reset, timed out
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.ProtocolError,
    # api_request (requests); ConnectionError includes connect timeouts
    requests.ConnectionError,
    requests.Timeout,
)
MAX_RATE_LIMIT_WAIT_S = 300.0
SECONDLY_WAIT_S = 1.0
TEN_SECONDLY_WAIT_S = 10.0


class DailyLimitReached(UserError):
    """HubSpot answered 429 with policyName DAILY: stop the pass, retry after midnight."""


class TokenRejected(UserError):
    """HubSpot answered 401: the access token is wrong or revoked."""


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK ApiException (any generated package), else None."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and status > 0 else None


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON error body HubSpot sent (`category`, `message`, `policyName`...), or {}."""
    raw = getattr(exc, "body", None)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def header(exc: BaseException, name: str) -> str | None:
    """One response header of an ApiException, case-insensitively."""
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def rate_limit_policy(exc: BaseException) -> str:
    """The 429's policy: TEN_SECONDLY_ROLLING, DAILY, SECONDLY (search) or UNKNOWN."""
    body = error_body(exc)
    policy = body.get("policyName")
    if isinstance(policy, str) and policy:
        return policy
    # search 429s carry no policyName, only "You have reached your secondly limit."
    if "secondly" in str(body.get("message", "")).lower():
        return "SECONDLY"
    return "UNKNOWN"


def translate(exc: BaseException) -> BaseException:
    """The error a caller should see: one clear line for a rejected token or the daily limit."""
    status = status_of(exc)
    if status == 401:
        return TokenRejected(
            "HubSpot rejected the access token (401): set HUBSPOT_ACCESS_TOKEN to the private "
            "app's current token"
        )
    if status == 429 and rate_limit_policy(exc) == "DAILY":
        return DailyLimitReached(
            "HubSpot's daily API limit for this portal is used up; it resets at midnight in the "
            "portal's time zone, run again after that"
        )
    return exc


def is_retryable(exc: BaseException, *, retry_server_errors: bool = True) -> bool:
    """429 (not DAILY), 500/502/503/504 and connection failures; never other 4xx."""
    status = status_of(exc)
    if status == 429:
        return rate_limit_policy(exc) != "DAILY"
    if status in SERVER_ERRORS:
        return retry_server_errors
    if status is None and isinstance(exc, CONNECTION_ERRORS):
        return retry_server_errors
    return False


def retry_after_s(exc: BaseException, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date), when the answer has one."""
    raw = header(exc, "Retry-After")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def rate_limit_wait_s(exc: BaseException) -> float:
    """How long a 429 asks us to wait before the next try."""
    explicit = retry_after_s(exc)
    if explicit is not None:
        return min(explicit, MAX_RATE_LIMIT_WAIT_S)
    policy = rate_limit_policy(exc)
    if policy == "SECONDLY":
        return SECONDLY_WAIT_S
    interval = header(exc, "X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        # a rolling window has fully freed the calls that filled it after one interval
        return min(int(interval) / 1000.0, MAX_RATE_LIMIT_WAIT_S) if interval else \
            TEN_SECONDLY_WAIT_S
    except ValueError:
        return TEN_SECONDLY_WAIT_S


@dataclass(frozen=True)
class RetryWait:
    """A wait before the next try: how long, and why (`429 TEN_SECONDLY_ROLLING`, `HTTP 503`,
    `connection`), for a progress display that would otherwise look stuck."""

    seconds: float
    reason: str
    rate_limited: bool


@dataclass
class RetryPolicy:
    """Retries with a stop; waits injectable so tests run in milliseconds.

    `listeners` hear of every wait before it starts. A call that gives up raises the last
    error with `hubspot_attempts` (tries made) and `hubspot_waited_s` set on it.
    """

    max_attempts: int = 6
    backoff_multiplier_s: float = 0.5
    backoff_max_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    listeners: list[Callable[[RetryWait], None]] = field(default_factory=list)

    def _tell(self, wait: RetryWait) -> None:
        for listener in list(self.listeners):
            try:
                listener(wait)
            except Exception:  # noqa: BLE001,S110 - a display must never break a call
                pass

    def call(self, attempt: Callable[[], T], *, retry_server_errors: bool = True) -> T:
        """Run `attempt` until it succeeds, fails for good, or the attempts run out.

        `retry_server_errors=False` is for calls that must not run twice (`batch/create`:
        a 5xx or a dropped connection may hide a success, and a retry duplicates records).
        """
        backoff = wait_random_exponential(
            multiplier=self.backoff_multiplier_s, max=self.backoff_max_s
        )

        tries = [0]
        waited = [0.0]

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None and status_of(exc) == 429:
                return rate_limit_wait_s(exc)
            return float(backoff(state))

        def before_sleep(state: RetryCallState) -> None:
            # called only for a wait that happens (never after the last try)
            exc = state.outcome.exception() if state.outcome else None
            seconds = float(state.upcoming_sleep)
            waited[0] += seconds
            status = status_of(exc) if exc is not None else None
            if exc is not None and status == 429:
                self._tell(RetryWait(seconds, f"429 {rate_limit_policy(exc)}", True))
            else:
                self._tell(RetryWait(seconds, f"HTTP {status}" if status else "connection",
                                     False))

        def translated() -> T:
            tries[0] += 1
            try:
                return attempt()
            except Exception as exc:
                clear = translate(exc)
                if clear is exc:
                    raise
                raise clear from None

        retrying = Retrying(
            sleep=self.sleep,
            stop=stop_after_attempt(self.max_attempts),
            wait=wait,
            before_sleep=before_sleep,
            retry=retry_if_exception(
                lambda e: is_retryable(e, retry_server_errors=retry_server_errors)
            ),
            reraise=True,
        )
        try:
            return retrying(translated)
        except Exception as exc:
            try:  # for the one line that names how hard we tried
                exc.hubspot_attempts = tries[0]  # type: ignore[attr-defined]
                exc.hubspot_waited_s = waited[0]  # type: ignore[attr-defined]
            except AttributeError:
                pass
            raise
