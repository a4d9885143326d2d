"""Snapshots' outcomes read from the tables (windows, open windows, other mappings), the
dashboard's calibration panel and the report's JSON, and the command's one-line refusals."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from connector.cli import cli
from connector.config import Settings
from connector.db.models import ReadinessSnapshot, Referral
from connector.db.session import transaction
from connector.report.calibration import load_snapshots
from connector.report.source import load_report
from connector.runtime import Runtime
from connector.scoring.mapping import Mapping
from connector.web.app import create_app

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def shares_for(mapping: Mapping, nps: float, milestones: float = 0.5) -> dict[str, float]:
    return {s.key: nps if s.key == "nps" else milestones if s.key == "success_milestones"
            else 0.5 for s in mapping.signals}


def snapshot(mapping: Mapping, contact_id: str, taken: datetime, *, step: str = "invitation",
             nps: float = 0.9, version: str | None = None) -> ReadinessSnapshot:
    return ReadinessSnapshot(contact_id=contact_id, step=step, taken_at=taken, score=70,
                             tier="ready", shares=shares_for(mapping, nps),
                             mapping_version=mapping.version,
                             signals_version=version or mapping.signals_version)


def referral(advocate: str, friend: str, at: datetime, status: str = "attributed") -> Referral:
    return Referral(referred_contact_id=friend, advocate_contact_id=advocate, code="CODE",
                    status=status, attributed_at=at,
                    converted_at=at + DAY if status == "converted" else None)


@pytest.fixture
def runtime(settings: Settings, sqlite_engine: Engine) -> Runtime:
    return Runtime(settings, engine=sqlite_engine)


def test_each_referral_counts_for_the_latest_ask_before_it(runtime: Runtime) -> None:
    mapping = runtime.mapping
    start = NOW - 100 * DAY
    with transaction(runtime.sessions) as session:
        session.add_all([
            # 1: invited, reminded 7 days later, refers on day 10: the reminder's outcome
            snapshot(mapping, "1", start), snapshot(mapping, "1", start + 7 * DAY,
                                                    step="reminder"),
            referral("1", "f1", start + 10 * DAY),
            # 2: refers on day 40: outside its 30-day window
            snapshot(mapping, "2", start), referral("2", "f2", start + 40 * DAY),
            # 3: refers on day 2 and the friend converts
            snapshot(mapping, "3", start), referral("3", "f3", start + 2 * DAY, "converted"),
            # 4: a referral a merge cancelled does not count
            snapshot(mapping, "4", start), referral("4", "f4", start + DAY, "cancelled"),
            # 5: asked 10 days ago, nothing yet: its window is still open
            snapshot(mapping, "5", NOW - 10 * DAY),
            # 6: taken under other signal definitions
            snapshot(mapping, "6", start, version="another"),
        ])
    with runtime.sessions() as session:
        referred = load_snapshots(session, mapping, outcome="referred", window_days=30,
                                  conversion_days=90, now=NOW)
        converted = load_snapshots(session, mapping, outcome="converted", window_days=30,
                                   conversion_days=60, now=NOW)
        since = load_snapshots(session, mapping, outcome="referred", window_days=30,
                               conversion_days=90, since=start + DAY, now=NOW)
    assert (referred.total, referred.open, referred.other_mapping) == (7, 1, 1)
    # rows come by contact then time: 1 (invitation, reminder), 2, 3, 4
    assert referred.ended.outcome.tolist() == [False, True, False, True, False]
    assert referred.ended.groups.tolist() == [0, 0, 1, 2, 3]
    assert referred.so_far.count == 6
    assert referred.counts()["next_window_ends"] == (NOW + 20 * DAY).isoformat(
        timespec="seconds")
    # converted: 3's friend converted, and its window plus the conversion window has ended
    assert converted.ended.outcome.tolist() == [False, False, False, True, False]
    assert since.total == 2  # the reminder and 5's snapshot


def seed_outcomes(runtime: Runtime, advocates: int = 400, seed: int = 4) -> None:
    """Advocates asked 60 days ago; the higher the NPS share, the likelier they referred."""
    rng = random.Random(seed)
    mapping = runtime.mapping
    with transaction(runtime.sessions) as session:
        for n in range(advocates):
            nps = rng.random()
            session.add(snapshot(mapping, str(n), NOW - 60 * DAY, nps=nps))
            if rng.random() < 0.1 + 0.6 * nps:
                session.add(referral(str(n), f"friend{n}", NOW - 50 * DAY))


def test_the_dashboard_shows_the_rate_per_band_and_the_auc(runtime: Runtime,
                                                           settings: Settings) -> None:
    seed_outcomes(runtime)
    client = create_app(runtime=runtime).test_client()
    client.post("/dashboard/login", data={"token": settings.dashboard_token})
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Is the score honest?" in page.text
    assert "AUC <strong>" in page.text and "higher scores refer more" in page.text
    assert page.text.count('class="calibration-band"') == 4
    panel = client.get("/dashboard/data.json").get_json()["calibration"]
    assert panel["outcome"] == "referred" and panel["window_days"] == 30
    assert panel["snapshots"]["used"] == 400
    low, high = panel["auc_interval"]
    assert 0.5 < low < panel["auc"] < high
    assert [b["label"] for b in panel["bands"]] == ["champion", "ready", "nurture", "not_ready"]
    assert sum(b["snapshots"] for b in panel["bands"]) == 400


def test_the_panel_says_when_there_is_too_little(runtime: Runtime, settings: Settings) -> None:
    with transaction(runtime.sessions) as session:
        session.add(snapshot(runtime.mapping, "1", datetime.now(UTC) - DAY))
    assert load_report(runtime)["calibration"]["auc"] is None
    client = create_app(runtime=runtime).test_client()
    client.post("/dashboard/login", data={"token": settings.dashboard_token})
    assert "Not enough outcomes yet: 0 asks" in client.get("/dashboard").text


@pytest.fixture
def invoke(runtime: Runtime, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("connector.cli.calibrate.build_runtime", lambda: runtime)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args))

    return run


def test_below_the_minimum_the_command_says_how_many_it_needs(invoke, runtime: Runtime
                                                              ) -> None:
    seed_outcomes(runtime, advocates=40)
    answer = invoke("calibrate")
    assert answer.exit_code == 0, answer.output
    assert "calibration needs at least 30 of each. Nothing proposed." in answer.output
    assert "score ranking: AUC" in answer.output
    document = json.loads(invoke("calibrate", "--json").output)
    assert document["proposal"] is None and document["signals"] == []
    assert document["snapshots"] == 40
    assert "needs at least 30" in document["verdict"]


def test_the_command_never_writes_over_the_mapping_in_use(invoke, runtime: Runtime) -> None:
    seed_outcomes(runtime, advocates=600)
    in_use = Path(runtime.settings.mapping_path)
    before = in_use.read_text()
    answer = invoke("calibrate", "--write", str(in_use))
    assert answer.exit_code == 2
    assert answer.output.startswith(f"error: {in_use} is the mapping in use")
    assert in_use.read_text() == before


def test_a_bad_option_is_one_line(invoke) -> None:
    answer = invoke("calibrate", "--outcome", "clicked")
    assert answer.exit_code == 2
    assert "Traceback" not in answer.output
