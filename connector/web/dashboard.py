"""The program dashboard: token login, the report as charts and tables, and its JSON."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from connector.db.session import transaction
from connector.program.decisions import decide_reward
from connector.program.payouts import mark_paid
from connector.program.rewards import RewardDecisionError
from connector.queue.inbox import replay
from connector.report.source import ReportUnavailable, load_report
from connector.web.current import runtime_of
from connector.web.dashboard_auth import (
    csrf_ok,
    csrf_token,
    derive,
    same,
    session_hours,
    session_state,
    start_session,
    throttle_of,
)

log = logging.getLogger(__name__)
# what a page view or action answers with: a page, a page and its status (and headers), a redirect
Page = str | tuple[str, int] | tuple[str, int, dict[str, str]] | BaseResponse
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
# ids are BIGINT: a larger number is no row's id, and the databases refuse to compare with it
ID = "int(max=9223372036854775807)"

# no inline scripts or styles, nothing from elsewhere: the page runs in locked-down networks
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@bp.record_once
def _configure_sessions(state: BlueprintSetupState) -> None:
    """Sign the session cookie with a key derived from DASHBOARD_TOKEN; set its flags."""
    app = state.app
    assert isinstance(app, Flask)
    settings = runtime_of(app).settings
    if settings.dashboard_token and not app.secret_key:
        # a new token gives a new key, so changing the token logs everyone out
        app.secret_key = derive(settings.dashboard_token, "advocate-connector session key")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https")),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours(app)),
    )


def _token() -> str | None:
    return runtime_of(current_app).settings.dashboard_token


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _access(token: str) -> str:
    """`bearer` or `session` (allowed), `missing`, `expired`, `wrong` (a bad bearer token), or
    `throttled` (too many wrong tokens from this address: the bearer is not even looked at)."""
    bearer = _bearer()
    if bearer is not None:
        return _bearer_access(bearer, token)
    state = session_state(token, current_app)
    if state == "expired":
        session.clear()
    return "session" if state == "ok" else state


def _bearer_access(given: str, token: str) -> str:
    """A bearer token counts in the login's budget: wrong ones are throttled per address."""
    throttle = throttle_of(current_app)
    address = _client()
    if throttle.retry_after(address):
        return "throttled"
    if not same(given, token):
        throttle.failed(address)
        _log_refusal("bearer", address)
        return "wrong"
    throttle.succeeded(address)
    return "bearer"


def _log_refusal(kind: str, address: str) -> None:
    """One warning per wrong token: who tried and where, never what they sent."""
    log.warning("dashboard: wrong %s token from %s", kind, address,
                extra={"client_address": address, "path": request.path})


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(throttle_of(current_app).retry_after(_client()) or 1)}


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _off() -> tuple[str, int]:
    return render_template("dashboard_off.html"), 404


def _period() -> tuple[datetime | None, datetime | None, str | None]:
    """The period from `?since=YYYY-MM-DD&until=YYYY-MM-DD` (until included), or a problem."""
    bounds: list[datetime | None] = []
    for name in ("since", "until"):
        raw = request.args.get(name, "").strip()
        if not raw:
            bounds.append(None)
            continue
        try:
            if not raw.isascii():  # strptime's %Y also reads "２０２６"
                raise ValueError(raw)
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
            bounds.append(day + timedelta(days=1) if name == "until" else day)
        except ValueError:
            return None, None, f"{name} must be a date like 2026-01-31"
        except OverflowError:  # the day after 9999-12-31
            return None, None, f"{name} must be a date before 9999-12-31"
    since, until = bounds
    if since is not None and until is not None and since >= until:
        return None, None, "since must be on or before until"
    return since, until, None


def _report() -> tuple[dict[str, Any] | None, str | None]:
    since, until, problem = _period()
    if problem:
        return None, problem
    return load_report(runtime_of(current_app), since, until), None


def _client() -> str:
    """The caller's address: the socket's peer, or what TRUSTED_PROXY_HOPS proxies forwarded."""
    return request.remote_addr or "unknown"


@bp.get("/login")
def login_form() -> tuple[str, int] | str:
    """The page that asks for the dashboard token."""
    if not _token():
        return _off()
    expired = request.args.get("expired") == "1"
    return render_template("dashboard_login.html",
                           error="Your session expired; log in again." if expired else None)


@bp.post("/login")
def login() -> tuple[str, int, dict[str, str]] | tuple[str, int] | BaseResponse:
    """Check the token; on success set a signed, HttpOnly, expiring session cookie."""
    token = _token()
    if not token:
        return _off()
    throttle = throttle_of(current_app)
    wait = throttle.retry_after(_client())
    if wait:
        # checked before the token, so a throttled guess learns nothing even when right
        log.warning("dashboard: login from %s throttled", _client(),
                    extra={"client_address": _client(), "path": request.path})
        return (render_template("dashboard_login.html",
                                error="Too many wrong tokens; wait a few minutes."),
                429, {"Retry-After": str(wait)})
    if not same(request.form.get("token", "").strip(), token):
        throttle.failed(_client())
        _log_refusal("login", _client())
        return render_template("dashboard_login.html", error="That token is not right."), 401
    throttle.succeeded(_client())
    start_session(token)
    return redirect(url_for("dashboard.overview"))


@bp.post("/logout")
def logout() -> BaseResponse:
    """Forget the session."""
    session.clear()
    return redirect(url_for("dashboard.login_form"))


def _refused(access: str) -> Page | None:
    """The answer for a page request without a usable login, or None when it may go on."""
    if access == "missing":
        return redirect(url_for("dashboard.login_form"))
    if access == "expired":
        return redirect(url_for("dashboard.login_form", expired="1"))
    if access == "wrong":
        return render_template("dashboard_login.html", error="That token is not right."), 401
    if access == "throttled":
        return (render_template("dashboard_login.html",
                                error="Too many wrong tokens; wait a few minutes."),
                429, _retry_after())
    return None


@bp.get("")
@bp.get("/")
def overview() -> Page:
    """The program at a glance: funnel, tiers, weekly referrals, advocates, rewards, health."""
    token = _token()
    if not token:
        return _off()
    access = _access(token)
    refused = _refused(access)
    if refused is not None:
        return refused
    try:
        report, problem = _report()
    except ReportUnavailable as exc:
        return render_template("dashboard_error.html", problem=str(exc)), 503
    if report is None:
        return render_template("dashboard_error.html", problem=problem), 400
    # bearer callers send no cookie, so they get no form token (and need none)
    csrf = csrf_token() if access == "session" else ""
    return render_template("dashboard.html", report=report, query=request.query_string.decode(),
                           csrf=csrf)


@bp.get("/data.json")
def data() -> tuple[Response, int] | Response:
    """The report as JSON, for the charts (session cookie or `Authorization: Bearer`)."""
    token = _token()
    if not token:
        return jsonify(error="the dashboard is off: set DASHBOARD_TOKEN"), 404
    access = _access(token)
    if access == "throttled":
        response = jsonify(error="too many wrong tokens from this address; retry later")
        response.headers.update(_retry_after())
        return response, 429
    if access not in ("session", "bearer"):
        response = jsonify(error="log in or send Authorization: Bearer <DASHBOARD_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="dashboard"'
        return response, 401
    try:
        report, problem = _report()
    except ReportUnavailable as exc:
        return jsonify(error=str(exc)), 503
    if report is None:
        return jsonify(error=problem), 400
    return jsonify(report)


def _guard_action() -> tuple[str | None, Page | None]:
    """Who acts (`session` or `bearer`), or the refusal: login needed, or a bad CSRF token.

    A bearer token is never sent by a browser on its own, so only cookie sessions (which a
    browser attaches to any cross-site form) need the form's CSRF token.
    """
    token = _token()
    if not token:
        return None, _off()
    access = _access(token)
    refused = _refused(access)
    if refused is not None:
        return None, refused
    if access == "session" and not csrf_ok(request.form.get("csrf_token")):
        return None, (render_template("dashboard_error.html",
                                      problem="The form was stale or not from this dashboard "
                                              "(CSRF check failed); reload and try again."), 403)
    return access, None


def _done(message: str) -> BaseResponse:
    """Back to the overview after a change (POST, redirect, GET), saying what was done."""
    flash(message)
    return redirect(url_for("dashboard.overview"), code=303)


def _decide(reward_id: int, *, approve: bool, by: str, reason: str | None) -> None:
    """The CLI's use case, in one transaction: an approval inside the hold stays `held`."""
    runtime = runtime_of(current_app)
    with transaction(runtime.sessions) as session:
        decide_reward(session, runtime, reward_id, approve=approve, by=by, reason=reason,
                      now=datetime.now(UTC))


def _bad_form(field: str) -> tuple[str, int]:
    """400 for a form value no database column can hold (a NUL)."""
    return render_template("dashboard_error.html",
                           problem=f"The {field} holds a character that cannot be stored."), 400


def _conflict(problem: str) -> tuple[str, int]:
    return render_template("dashboard_error.html", problem=problem), 409


@bp.post(f"/rewards/<{ID}:reward_id>/approve")
def approve_reward(reward_id: int) -> Page:
    """Grant a reward waiting for approval, as `connector rewards approve` does."""
    access, refused = _guard_action()
    if refused is not None:
        return refused
    try:
        _decide(reward_id, approve=True, by=f"dashboard:{access}", reason=None)
    except RewardDecisionError as exc:
        return _conflict(str(exc))
    return _done(f"Reward {reward_id} approved.")


@bp.post(f"/rewards/<{ID}:reward_id>/reject")
def reject_reward(reward_id: int) -> Page:
    """Reject a reward waiting for approval, as `connector rewards reject` does."""
    access, refused = _guard_action()
    if refused is not None:
        return refused
    reason = request.form.get("reason", "").strip()[:200] or "rejected on the dashboard"
    if "\x00" in reason:
        return _bad_form("reason")
    try:
        _decide(reward_id, approve=False, by=f"dashboard:{access}", reason=reason)
    except RewardDecisionError as exc:
        return _conflict(str(exc))
    return _done(f"Reward {reward_id} rejected.")


@bp.post(f"/rewards/<{ID}:reward_id>/paid")
def mark_reward_paid(reward_id: int) -> Page:
    """Record a reward paid by hand, as `connector rewards paid` does."""
    access, refused = _guard_action()
    if refused is not None:
        return refused
    reference = request.form.get("reference", "").strip()[:128] or "manual"
    if "\x00" in reference:
        return _bad_form("reference")
    runtime = runtime_of(current_app)
    with transaction(runtime.sessions) as session:
        done = mark_paid(session, runtime, reward_id, reference=reference,
                         now=datetime.now(UTC), by=f"dashboard:{access}")
    if not done:
        return _conflict(f"reward {reward_id} is not waiting to be paid")
    return _done(f"Reward {reward_id} recorded as paid.")


@bp.post(f"/events/<{ID}:event_id>/replay")
def replay_event(event_id: int) -> Page:
    """Send one inbox event back to the queue, as `connector events replay <id>` does."""
    _, refused = _guard_action()
    if refused is not None:
        return refused
    if not replay(runtime_of(current_app).engine, event_id=event_id):
        return _conflict(f"event {event_id} is unknown or being handled right now")
    return _done(f"Event {event_id} queued again.")
