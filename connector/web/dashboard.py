"""The program dashboard: token login, the report as charts and tables, and its JSON."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from connector.report.source import ReportUnavailable, load_report
from connector.web.app import runtime_of

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

SESSION_HOURS = 12
SESSION_KEY = "dashboard"
# no inline scripts or styles, nothing from elsewhere: the page runs in locked-down networks
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def _derive(token: str, purpose: str) -> str:
    """A value derived from the dashboard token for one purpose (never the token itself)."""
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


@bp.record_once
def _configure_sessions(state: BlueprintSetupState) -> None:
    """Sign the session cookie with a key derived from DASHBOARD_TOKEN; set its flags."""
    app = state.app
    assert isinstance(app, Flask)
    settings = runtime_of(app).settings
    if settings.dashboard_token and not app.secret_key:
        # a new token gives a new key, so changing the token logs everyone out
        app.secret_key = _derive(settings.dashboard_token, "advocate-connector session key")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https")),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )


def _token() -> str | None:
    return runtime_of(current_app).settings.dashboard_token


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison, so response times say nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _access(token: str) -> str:
    """`ok`, `missing` (no credentials) or `wrong` (credentials that do not match)."""
    bearer = _bearer()
    if bearer is not None:
        return "ok" if _same(bearer, token) else "wrong"
    marker = session.get(SESSION_KEY)
    if isinstance(marker, str) and _same(marker, _derive(token, "dashboard session")):
        return "ok"
    return "missing"


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
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return None, None, f"{name} must be a date like 2026-01-31"
        bounds.append(day + timedelta(days=1) if name == "until" else day)
    return bounds[0], bounds[1], None


def _report() -> tuple[dict[str, Any] | None, str | None]:
    since, until, problem = _period()
    if problem:
        return None, problem
    return load_report(runtime_of(current_app), since, until), None


@bp.get("/login")
def login_form() -> tuple[str, int] | str:
    """The page that asks for the dashboard token."""
    if not _token():
        return _off()
    return render_template("dashboard_login.html", error=None)


@bp.post("/login")
def login() -> tuple[str, int] | BaseResponse:
    """Check the token; on success set a signed, HttpOnly, expiring session cookie."""
    token = _token()
    if not token:
        return _off()
    if not _same(request.form.get("token", "").strip(), token):
        return render_template("dashboard_login.html", error="That token is not right."), 401
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = _derive(token, "dashboard session")
    return redirect(url_for("dashboard.overview"))


@bp.post("/logout")
def logout() -> BaseResponse:
    """Forget the session."""
    session.clear()
    return redirect(url_for("dashboard.login_form"))


@bp.get("")
@bp.get("/")
def overview() -> tuple[str, int] | str | BaseResponse:
    """The program at a glance: funnel, tiers, weekly referrals, advocates, rewards, health."""
    token = _token()
    if not token:
        return _off()
    access = _access(token)
    if access == "missing":
        return redirect(url_for("dashboard.login_form"))
    if access == "wrong":
        return render_template("dashboard_login.html", error="That token is not right."), 401
    try:
        report, problem = _report()
    except ReportUnavailable as exc:
        return render_template("dashboard_error.html", problem=str(exc)), 503
    if report is None:
        return render_template("dashboard_error.html", problem=problem), 400
    return render_template("dashboard.html", report=report, query=request.query_string.decode())


@bp.get("/data.json")
def data() -> tuple[Response, int] | Response:
    """The report as JSON, for the charts (session cookie or `Authorization: Bearer`)."""
    token = _token()
    if not token:
        return jsonify(error="the dashboard is off: set DASHBOARD_TOKEN"), 404
    if _access(token) != "ok":
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
