"""Dashboard actions: approve / reject a reward and replay a dead event, CSRF-checked POSTs;
sessions that expire; a login that slows down repeated wrong tokens."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.db.models import InboxEvent, OutboxItem, RewardLedger
from connector.runtime import Runtime
from connector.web import dashboard_auth
from connector.web.app import create_app

TOKEN = "dashboard-token"  # the `settings` fixture's
PENDING = 3  # the seeded reward waiting for approval (fixtures_report.seed_program)
DEAD = 5  # the seeded dead inbox event
# what an approved reward becomes: granted, or held / payable when the program has a hold period
APPROVED = ("granted", "held", "payable")


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(dashboard_auth, "clock", frozen)
    return frozen


@pytest.fixture
def app(program_sqlite, settings):
    return create_app(runtime=Runtime(settings, engine=program_sqlite.engine))


@pytest.fixture
def client(app):
    return app.test_client()


def log_in(client, token: str = TOKEN, address: str = "10.0.0.1"):
    return client.post("/dashboard/login", data={"token": token},
                       environ_base={"REMOTE_ADDR": address})


def csrf_of(client) -> str:
    page = client.get("/dashboard")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def reward(engine, reward_id: int = PENDING) -> tuple[str, str | None, str | None]:
    with Session(engine) as session:
        row = session.get(RewardLedger, reward_id)
        assert row is not None
        return row.status, row.decided_by, row.reason


def outbox_size(engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


def event_status(engine, event_id: int = DEAD) -> tuple[str, int]:
    with Session(engine) as session:
        row = session.get(InboxEvent, event_id)
        assert row is not None
        return row.status, row.attempts


def test_the_page_offers_approve_reject_and_replay_forms(client) -> None:
    log_in(client)
    page = client.get("/dashboard").text
    assert f'action="/dashboard/rewards/{PENDING}/approve"' in page
    assert f'action="/dashboard/rewards/{PENDING}/reject"' in page
    assert f'action="/dashboard/events/{DEAD}/replay"' in page
    assert page.count('name="csrf_token"') == 3


def test_approve_changes_the_ledger_once(client, program_sqlite) -> None:
    engine = program_sqlite.engine
    log_in(client)
    csrf = csrf_of(client)
    before = outbox_size(engine)
    answer = client.post(f"/dashboard/rewards/{PENDING}/approve", data={"csrf_token": csrf})
    assert answer.status_code == 303
    status, by, _ = reward(engine)
    assert status in APPROVED and by == "dashboard:session"
    announced = outbox_size(engine)
    assert announced > before  # the grant goes to HubSpot through the outbox
    page = client.get("/dashboard").text
    assert f"Reward {PENDING} approved." in page
    assert f'id="reward-{PENDING}"' not in page

    again = client.post(f"/dashboard/rewards/{PENDING}/approve", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "not waiting for a decision" in again.text
    assert reward(engine)[:2] == (status, "dashboard:session")
    assert outbox_size(engine) == announced


def test_reject_keeps_the_reason(client, program_sqlite) -> None:
    log_in(client)
    answer = client.post(f"/dashboard/rewards/{PENDING}/reject",
                         data={"csrf_token": csrf_of(client), "reason": "duplicate account"})
    assert answer.status_code == 303
    assert reward(program_sqlite.engine) == ("rejected", "dashboard:session", "duplicate account")
    approve = client.post(f"/dashboard/rewards/{PENDING}/approve",
                          data={"csrf_token": csrf_of(client)})
    assert approve.status_code == 409
    assert reward(program_sqlite.engine)[0] == "rejected"


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}])
def test_without_the_right_csrf_token_nothing_changes(client, program_sqlite, form) -> None:
    engine = program_sqlite.engine
    log_in(client)
    csrf_of(client)  # the session has a token; the forged form does not carry it
    for path in (f"/dashboard/rewards/{PENDING}/approve", f"/dashboard/rewards/{PENDING}/reject",
                 f"/dashboard/events/{DEAD}/replay"):
        answer = client.post(path, data=form)
        assert answer.status_code == 403, path
        assert "CSRF" in answer.text
    assert reward(engine) == ("pending_approval", None, "over the monthly cap")
    assert event_status(engine) == ("dead", 5)


def test_another_sessions_csrf_token_is_refused(app, program_sqlite) -> None:
    mine, theirs = app.test_client(), app.test_client()
    log_in(mine)
    log_in(theirs)
    answer = mine.post(f"/dashboard/rewards/{PENDING}/approve",
                       data={"csrf_token": csrf_of(theirs)})
    assert answer.status_code == 403
    assert reward(program_sqlite.engine)[0] == "pending_approval"


def test_actions_need_a_login(client, program_sqlite) -> None:
    answer = client.post(f"/dashboard/rewards/{PENDING}/approve", data={"csrf_token": "x"})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/dashboard/login")
    wrong = client.post(f"/dashboard/events/{DEAD}/replay",
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert reward(program_sqlite.engine)[0] == "pending_approval"
    assert event_status(program_sqlite.engine) == ("dead", 5)


def test_bearer_callers_act_without_a_form_token(client, program_sqlite) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post(f"/dashboard/rewards/{PENDING}/approve", headers=bearer)
    assert answer.status_code == 303
    status, by, _ = reward(program_sqlite.engine)
    assert status in APPROVED and by == "dashboard:bearer"


def test_replay_puts_a_dead_event_back_in_the_queue(client, program_sqlite) -> None:
    log_in(client)
    answer = client.post(f"/dashboard/events/{DEAD}/replay", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303
    assert event_status(program_sqlite.engine) == ("pending", 0)
    assert f"Event {DEAD} queued again." in client.get("/dashboard").text
    unknown = client.post("/dashboard/events/9999/replay", data={"csrf_token": csrf_of(client)})
    assert unknown.status_code == 409


def test_an_expired_session_goes_back_to_login(app, client, clock, program_sqlite) -> None:
    app.config["DASHBOARD_SESSION_HOURS"] = 8
    log_in(client)
    csrf = csrf_of(client)
    clock.now += 8 * 3600 - 5
    assert client.get("/dashboard").status_code == 200
    clock.now += 10
    page = client.get("/dashboard")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/dashboard/login?expired=1")
    assert "session expired" in client.get(page.headers["Location"]).text
    assert client.get("/dashboard/data.json").status_code == 401
    answer = client.post(f"/dashboard/rewards/{PENDING}/approve", data={"csrf_token": csrf})
    assert answer.status_code == 302
    assert reward(program_sqlite.engine)[0] == "pending_approval"


def test_session_lifetime_is_configurable(app, client, clock) -> None:
    app.config["DASHBOARD_SESSION_HOURS"] = 0.5
    log_in(client)
    clock.now += 31 * 60
    assert client.get("/dashboard/data.json").status_code == 401


def test_session_hours_from_the_environment(program_sqlite, settings) -> None:
    hours = Settings.from_env({"DASHBOARD_SESSION_HOURS": "2"}).dashboard_session_hours
    settings = dataclasses.replace(settings, dashboard_session_hours=hours)
    app = create_app(runtime=Runtime(settings, engine=program_sqlite.engine))
    assert app.permanent_session_lifetime.total_seconds() == 2 * 3600
    cookie = log_in(app.test_client()).headers["Set-Cookie"]
    assert "Expires=" in cookie


def test_repeated_wrong_tokens_are_throttled_per_address(client, clock) -> None:
    for _ in range(dashboard_auth.LOGIN_ATTEMPTS):
        assert log_in(client, "guess").status_code == 401
    throttled = log_in(client, TOKEN)  # even the right token waits: guessing learns nothing
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= dashboard_auth.LOGIN_WINDOW_S + 1
    assert "Set-Cookie" not in throttled.headers
    assert log_in(client, TOKEN, address="10.0.0.2").status_code == 302  # another address
    clock.now += dashboard_auth.LOGIN_WINDOW_S + 1
    assert log_in(client, TOKEN).status_code == 302


def test_a_right_token_clears_the_failures(client, clock) -> None:
    for _ in range(dashboard_auth.LOGIN_ATTEMPTS - 1):
        log_in(client, "guess")
    assert log_in(client).status_code == 302
    for _ in range(dashboard_auth.LOGIN_ATTEMPTS - 1):
        assert log_in(client, "guess").status_code == 401


@pytest.mark.parametrize(("age_days", "expected"), [(1, "held"), (45, "payable")])
def test_approval_on_the_dashboard_serves_the_hold_like_the_cli(
    client, program_sqlite, settings, age_days: int, expected: str,
) -> None:
    # the program's hold is 30 days from the conversion (workflows/program.yaml): a reward
    # approved inside it stays held, as `connector rewards approve` leaves it
    engine = program_sqlite.engine
    assert Runtime(settings, engine=engine).program.hold_days == 30
    with Session(engine) as session, session.begin():
        row = session.get(RewardLedger, PENDING)
        assert row is not None and row.status == "pending_approval"
        row.created_at = datetime.now(UTC) - timedelta(days=age_days)
    log_in(client)
    answer = client.post(f"/dashboard/rewards/{PENDING}/approve",
                         data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303
    assert reward(engine)[0] == expected


def test_a_reward_paid_by_hand_is_recorded_from_the_dashboard(client, program_sqlite) -> None:
    engine = program_sqlite.engine
    with Session(engine) as session, session.begin():  # a friend's reward, paid by a person
        row = session.scalars(select(RewardLedger).where(RewardLedger.role == "friend")).first()
        assert row is not None
        row.status = "payable"
        reward_id = row.id
    log_in(client)
    page = client.get("/dashboard").text
    assert f'id="to-pay-{reward_id}"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post(f"/dashboard/rewards/{reward_id}/paid",
                         data={"csrf_token": csrf[1], "reference": "BANK-42"})
    assert answer.status_code == 303
    with Session(engine) as session:
        paid = session.get(RewardLedger, reward_id)
        assert paid is not None
        assert (paid.status, paid.payout_reference, paid.decided_by) == (
            "paid", "BANK-42", "dashboard:session")
    again = client.post(f"/dashboard/rewards/{reward_id}/paid", data={"csrf_token": csrf[1]})
    assert again.status_code == 409
    assert f'id="to-pay-{reward_id}"' not in client.get("/dashboard").text
