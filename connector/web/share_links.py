"""`GET /r/<code>`: an advocate's share link. It counts a person's click and sends the friend
on to the program's landing page with the code for the form's hidden field; it never calls
HubSpot and never shows the friend an error page."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from crawlerdetect import CrawlerDetect
from flask import Blueprint, Flask, current_app, redirect, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from connector import metrics
from connector.program.links import Visit, record_click, resolve, visitor_hash, well_formed
from connector.web.current import runtime_of

log = logging.getLogger(__name__)
bp = Blueprint("share_links", __name__)

# the crawler list (CrawlerDetect's, kept up to date upstream) compiles to one large regex
CRAWLERS = CrawlerDetect()
KEY = "share_links.visitor_key"
CACHE = "share_links.codes"


class CodeCache:
    """Who each code belongs to, remembered for a minute: a click then costs one INSERT and
    a bot or a repeat nothing. An opt-out or a deletion reaches the links within `ttl_s`."""

    def __init__(self, ttl_s: float = 60.0, size: int = 10_000) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._entries: dict[str, tuple[float, Visit]] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> Visit | None:
        found = self._entries.get(code)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, code: str, visit: Visit) -> None:
        with self._lock:
            if len(self._entries) >= self.size:  # bounded whatever codes strangers try
                self._entries.clear()
            self._entries[code] = (time.monotonic() + self.ttl_s, visit)


class AnyText(BaseConverter):
    """The rest of the path, whatever it holds (a pasted line break included): a friend with
    a mangled link still lands on the page rather than on a 404."""

    regex = r"(?s:.*)"
    part_isolating = False


@bp.record_once
def _converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["share_code"] = AnyText


@bp.record_once
def _prepare(state: BlueprintSetupState) -> None:
    """Derive the visitor key once per process; compile the crawler list before the first
    click pays for it (about 15 ms)."""
    app = state.app
    assert isinstance(app, Flask)
    app.extensions[KEY] = runtime_of(app).settings.visitor_key()
    app.extensions[CACHE] = CodeCache()
    CRAWLERS.is_crawler("Mozilla/5.0")


def utcnow() -> datetime:
    """The time of a click (tests move it across days)."""
    return datetime.now(UTC)


def is_person(user_agent: str) -> bool:
    """A click by a person: a browser's user agent, not a bot or a link previewer (Slack,
    LinkedIn, Facebook, X, Teams, WhatsApp... unfurl links they are shown), nor a prefetch."""
    if not user_agent.strip():
        return False  # browsers always send one; scripts often do not
    if request.headers.get("Sec-Purpose", request.headers.get("Purpose", "")).startswith(
            ("prefetch", "prerender")):
        return False
    return not CRAWLERS.is_crawler(user_agent)


def _visit(engine: Engine, raw: str) -> Visit:
    """The code's visit, from the process's cache or one read (none for a malformed code)."""
    code = well_formed(raw)
    if code is None:
        return Visit("", "malformed")
    cache: CodeCache = current_app.extensions[CACHE]
    visit = cache.get(code)
    if visit is None:
        with engine.connect() as conn:
            visit = resolve(conn, code)
        cache.put(code, visit)
    return visit


@bp.route("/r", methods=["GET", "HEAD"], strict_slashes=False)
def share_link_without_code() -> Response:
    """`/r` alone: a link cut short still lands on the page."""
    return share_link("")


@bp.route("/r/<share_code:code>", methods=["GET", "HEAD"])
def share_link(code: str) -> Response:
    """302 to the landing page; the code rides along only when it belongs to an advocate who
    can be credited. HEAD, bots and repeats of the day are not counted as clicks."""
    runtime = runtime_of(current_app)
    user_agent = request.headers.get("User-Agent", "")
    person = request.method == "GET" and is_person(user_agent)
    key = current_app.extensions.get(KEY)
    now = utcnow()
    try:
        visit = _visit(runtime.engine, code)
        outcome = visit.outcome
        if person and key is not None:
            visitor = visitor_hash(key, now.date(), request.remote_addr or "", user_agent)
            # one statement, committed on its own: no BEGIN and COMMIT round trips
            with runtime.engine.connect() as conn:
                fresh = record_click(conn.execution_options(isolation_level="AUTOCOMMIT"),
                                     visit, visitor, now)
            if not fresh and outcome == "counted":
                outcome = "repeat"
    except SQLAlchemyError as exc:
        # the database is down: the friend still lands, with a code of the right shape
        # (attribution checks it when the contact arrives); the click is lost
        log.error("share link: database unavailable, click not counted: %s",
                  type(exc).__name__)
        shaped = well_formed(code)
        visit, outcome = Visit(shaped or "", "counted" if shaped else "malformed"), "unavailable"
    if request.method == "HEAD":
        outcome = "head"
    elif not person:
        outcome = "bot"
    metrics.SHARE_LINK_REQUESTS.labels(outcome).inc()
    response = redirect(runtime.program.landing_url(visit.landing_code), 302)
    # every click must reach the connector: no browser or proxy may answer it from a cache
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
