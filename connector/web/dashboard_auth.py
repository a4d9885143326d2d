"""Dashboard sign-in safety: expiring sessions, CSRF tokens, and a login throttle."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from flask import Flask, session

from connector.web.current import runtime_of

SESSION_KEY = "dashboard"
ISSUED_KEY = "issued"
CSRF_KEY = "csrf"
DEFAULT_SESSION_HOURS = 8.0
# wrong tokens allowed per client address inside the window before the login answers 429
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_S = 300.0

# the wall clock; tests freeze it by monkeypatching this name
clock: Callable[[], float] = time.time


def derive(token: str, purpose: str) -> str:
    """A value derived from the dashboard token for one purpose (never the token itself)."""
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison, so response times say nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def session_hours(app: Flask) -> float:
    """How long a login lasts: app config, else the settings' DASHBOARD_SESSION_HOURS (8)."""
    configured = app.config.get("DASHBOARD_SESSION_HOURS")
    if configured is None:
        configured = runtime_of(app).settings.dashboard_session_hours
        app.config["DASHBOARD_SESSION_HOURS"] = configured
    return float(configured)


def start_session(token: str) -> None:
    """A fresh session: the login marker, when it was issued, and its own CSRF token."""
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = derive(token, "dashboard session")
    session[ISSUED_KEY] = int(clock())
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def session_state(token: str, app: Flask) -> str:
    """`ok`, `missing` (no login) or `expired` (a login older than the session lifetime).

    The cookie's own Expires is advisory (a client may keep it), so the issue time inside the
    signed cookie is checked here too.
    """
    marker = session.get(SESSION_KEY)
    if not isinstance(marker, str) or not same(marker, derive(token, "dashboard session")):
        return "missing"
    issued = session.get(ISSUED_KEY)
    if not isinstance(issued, int) or clock() - issued > session_hours(app) * 3600:
        return "expired"
    return "ok"


def csrf_token() -> str:
    """This session's CSRF token (made on login; an old session gets one on first use)."""
    value = session.get(CSRF_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[CSRF_KEY] = value
    return value


def csrf_ok(given: str | None) -> bool:
    """Whether a form's CSRF token is this session's, compared in constant time."""
    expected = session.get(CSRF_KEY)
    if not isinstance(expected, str) or not given:
        return False
    return same(given, expected)


class LoginThrottle:
    """Wrong tokens per client address in a sliding window, in this process's memory.

    Under gunicorn each worker keeps its own window, so an address gets up to
    LOGIN_ATTEMPTS x workers tries per window; enough to stop guessing a long random token.
    """

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window_s: float = LOGIN_WINDOW_S):
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until this address may try again; 0 when it may try now."""
        now = clock()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < self.attempts:
                if not failures:
                    self._failures.pop(address, None)
                return 0
            return max(1, int(failures[0] + self.window_s - now) + 1)

    def failed(self, address: str) -> None:
        """Count one wrong token from this address."""
        now = clock()
        with self._lock:
            if len(self._failures) > 10_000:  # bound memory under a spray of addresses
                self._failures.clear()
            self._recent(address, now).append(now)

    def succeeded(self, address: str) -> None:
        """A right token clears the address's failures."""
        with self._lock:
            self._failures.pop(address, None)


def throttle_of(app: Flask) -> LoginThrottle:
    """The app's login throttle (one per app, so per process)."""
    throttle = app.extensions.get("dashboard_login_throttle")
    if not isinstance(throttle, LoginThrottle):
        throttle = LoginThrottle()
        app.extensions["dashboard_login_throttle"] = throttle
    return throttle
