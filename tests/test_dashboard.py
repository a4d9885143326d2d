"""The dashboard: off without a token, token login with a safe cookie, bearer, report shown."""

from __future__ import annotations

import hmac

import pytest

from connector.config import Settings
from connector.runtime import Runtime
from connector.web.app import create_app

TOKEN = "dashboard-token"  # the `settings` fixture's


@pytest.fixture
def client(program_sqlite, settings):
    app = create_app(runtime=Runtime(settings, engine=program_sqlite.engine))
    return app.test_client()


def log_in(client, token: str = TOKEN):
    return client.post("/dashboard/login", data={"token": token})


def test_off_without_a_token_and_says_how_to_turn_it_on(settings, sqlite_engine) -> None:
    off = Settings(**{**settings.__dict__, "dashboard_token": None})
    client = create_app(runtime=Runtime(off, engine=sqlite_engine)).test_client()
    for path in ("/dashboard", "/dashboard/login", "/dashboard/data.json"):
        answer = client.get(path)
        assert answer.status_code == 404, path
    assert "DASHBOARD_TOKEN" in client.get("/dashboard").text
    assert log_in(client).status_code == 404


def test_without_credentials_the_page_sends_to_login(client) -> None:
    answer = client.get("/dashboard")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")
    assert client.get("/dashboard/data.json").status_code == 401


def test_wrong_token_is_401_and_sets_no_session(client) -> None:
    answer = log_in(client, "not-the-token")
    assert answer.status_code == 401
    assert "not right" in answer.text
    assert "Set-Cookie" not in answer.headers
    assert client.get("/dashboard/data.json").status_code == 401


def test_login_sets_a_safe_expiring_cookie(client) -> None:
    answer = log_in(client)
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie
    assert TOKEN not in cookie
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert 'id="chart-funnel"' in page.text
    assert "over the monthly cap" in page.text  # the reward waiting for approval
    assert "CODE1" in page.text  # the top advocate
    assert "TimeoutError" in page.text  # the dead event
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/dashboard/data.json").json["referrals"]["made"] == 3


def test_logout_forgets_the_session(client) -> None:
    log_in(client)
    client.post("/dashboard/logout")
    assert client.get("/dashboard/data.json").status_code == 401


def test_bearer_token(client) -> None:
    good = client.get("/dashboard/data.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200
    assert good.json["funnel"]["invited"] == 4
    bad = client.get("/dashboard/data.json", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert client.get("/dashboard", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_tokens_are_compared_in_constant_time(client, monkeypatch) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("connector.web.dashboard_auth.hmac.compare_digest", spy)
    log_in(client, "guess")
    client.get("/dashboard/data.json", headers={"Authorization": "Bearer guess2"})
    assert (b"guess", TOKEN.encode()) in calls
    assert (b"guess2", TOKEN.encode()) in calls


def test_period_from_the_query(client) -> None:
    log_in(client)
    report = client.get("/dashboard/data.json?since=2026-03-05").json
    assert report["referrals"]["made"] == 1
    assert client.get("/dashboard/data.json?since=March").status_code == 400
    page = client.get("/dashboard?since=2026-03-05")
    assert 'data-source="/dashboard/data.json?since=2026-03-05"' in page.text


def test_changing_the_token_ends_old_sessions(program_sqlite, settings) -> None:
    first = create_app(runtime=Runtime(settings, engine=program_sqlite.engine)).test_client()
    log_in(first)
    cookie = first.get_cookie("session")
    assert cookie is not None
    rotated = Settings(**{**settings.__dict__, "dashboard_token": "a-new-token"})
    second = create_app(runtime=Runtime(rotated, engine=program_sqlite.engine)).test_client()
    second.set_cookie("session", cookie.value)
    assert second.get("/dashboard/data.json").status_code == 401


def test_unreadable_database_is_503(settings, tmp_path) -> None:
    broken = Settings(**{**settings.__dict__,
                         "database_url": f"sqlite:///{tmp_path}/missing/dir/c.db"})
    client = create_app(runtime=Runtime(broken)).test_client()
    log_in(client)
    assert client.get("/dashboard").status_code == 503
    assert client.get("/dashboard/data.json").status_code == 503
