"""Calibration against a known truth, over real HTTP: a sandbox portal whose customers carry a
hidden propensity to refer; two simulated months in which the connector invites and reminds
them and the asked advocates refer according to it; then `connector calibrate`.

On the `truth` portal (referring depends on NPS and milestones, not on social mentions) the
signals that matter rank above those that do not and the proposed mapping beats the default
on held-out advocates; on the `random` portal nothing is significant and it says so. Seeds
are fixed.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_sync import SyncSetup
from sqlalchemy import func, select

from connector.cli import cli
from connector.config import Settings
from connector.db.models import ContactState, ReadinessSnapshot, Referral
from connector.program.dates import hubspot_time
from connector.report.calibration import CalibrationRun, run_calibration
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.scoring.mapping import load_mapping
from connector.sync.rescore import rescore_contacts

CONTACTS = 1500
MONTH = timedelta(days=30)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# the first invitations go out four months ago: every outcome window has ended by today
START = TODAY - timedelta(days=120)


def month_of_referrals(handle: SandboxHandle, runtime: Runtime, start: datetime,
                       rng: random.Random) -> int:
    """Each advocate asked and not yet referring refers (once) within the month with its
    hidden propensity, on a random day: the friend signs up with the code, as a form would."""
    with runtime.sessions() as session:
        asked = session.execute(select(ContactState.contact_id, ContactState.referral_code)
                                .where(ContactState.referral_code.is_not(None))
                                .order_by(ContactState.contact_id)).all()
        referring = set(session.scalars(select(Referral.advocate_contact_id)))
    by_day: dict[int, list[str]] = defaultdict(list)
    for contact_id, code in asked:
        if contact_id in referring or rng.random() >= handle.propensity(contact_id):
            continue
        day = rng.randrange(1, 29)
        signed_up = start + timedelta(days=day, hours=2)
        friend = handle.portal.create_contact({
            "email": f"friend.of.{contact_id}@friends{contact_id}.example",
            "firstname": "Friend", "lifecyclestage": "lead", "referred_by_code": code,
            "createdate": hubspot_time(signed_up)})
        by_day[day].append(str(friend.id))
    for day in sorted(by_day):
        rescore_contacts(runtime, by_day[day], reason="contact.creation",
                         now=start + timedelta(days=day, hours=3))
    return sum(len(v) for v in by_day.values())


def two_months(sync_setup: SyncSetup, model: str, seed: int) -> tuple[SandboxHandle, Runtime]:
    """Month 1: everyone scored, the ready invited; month 2: the silent ones reminded."""
    handle, runtime = sync_setup(contacts=CONTACTS, seed=seed, now=START, outcome_model=model)
    everyone = [str(c.id) for c in handle.portal.live_contacts()]
    rng = random.Random(seed)
    rescore_contacts(runtime, everyone, reason="sync:full", now=START + timedelta(hours=1))
    month_of_referrals(handle, runtime, START, rng)
    second = START + MONTH
    with runtime.sessions() as session:
        asked = list(session.scalars(select(ContactState.contact_id)
                                     .where(ContactState.invited_at.is_not(None))))
    rescore_contacts(runtime, asked, reason="program-due", now=second + timedelta(hours=1))
    month_of_referrals(handle, runtime, second, rng)
    return handle, runtime


def calibrated(runtime: Runtime) -> CalibrationRun:
    return run_calibration(runtime, outcome="referred", now=TODAY)


@pytest.mark.slow
def test_calibrate_finds_the_signals_that_matter_and_a_better_mapping(
        sync_setup: SyncSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handle, runtime = two_months(sync_setup, "truth", seed=21)
    with runtime.sessions() as session:
        steps = dict(session.execute(select(ReadinessSnapshot.step, func.count())
                                     .group_by(ReadinessSnapshot.step)).all())
    assert steps["invitation"] > 500 and steps["reminder"] > 200
    run = calibrated(runtime)
    result = run.result
    assert result.snapshots == steps["invitation"] + steps["reminder"]
    assert run.snapshots.open == 0
    assert result.positives > 150
    assert result.fit is not None
    ranked = [e.signal for e in sorted(result.fit.effects, key=lambda e: -e.coefficient)]
    assert set(ranked[:2]) == {"nps", "success_milestones"}, ranked
    effects = {e.signal: e for e in result.fit.effects}
    assert effects["nps"].significant and effects["success_milestones"].significant
    assert not effects["social_mentions"].significant
    assert ranked.index("social_mentions") > 1
    assert result.proposal is not None
    assert result.proposal["nps"] > 30 and result.proposal["success_milestones"] > 10
    held = result.held_out
    assert held is not None and held.proposed > held.current, held
    assert "not applied" in result.verdict

    # the CLI writes the proposal as a mapping that the connector loads and syncs with
    monkeypatch.setattr("connector.cli.calibrate.build_runtime", lambda: runtime)
    target = tmp_path / "proposed.yaml"
    answer = CliRunner().invoke(cli, ["calibrate", "--json", "--write", str(target)],
                                catch_exceptions=False)
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.output)
    assert document["proposal"]["weights"] == result.proposal
    assert document["written_to"] == str(target)
    settings = Settings.from_env({"CONNECTOR_MAPPING": str(target),
                                  "DATABASE_URL": runtime.settings.database_url,
                                  "HUBSPOT_BASE_URL": handle.url,
                                  "HUBSPOT_ACCESS_TOKEN": "sandbox-token"})
    assert {s.key: s.weight for s in load_mapping(settings.mapping_path).signals} == \
        result.proposal
    proposed = Runtime(settings, engine=runtime.engine)
    summary = rescore_contacts(proposed, [str(c.id) for c in handle.portal.live_contacts()][:50],
                               reason="sync:full", now=TODAY)
    assert summary.read == 50 and not summary.failed
    # and the mapping in use is unchanged: nothing is applied by itself
    assert runtime.mapping.version == load_mapping(runtime.settings.mapping_path).version


@pytest.mark.slow
def test_on_random_outcomes_calibrate_finds_nothing_and_says_so(
        sync_setup: SyncSetup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _handle, runtime = two_months(sync_setup, "random", seed=22)
    result = calibrated(runtime).result
    assert result.positives > 100
    assert not result.significant
    assert result.proposal is None
    assert "nothing significant" in result.verdict
    monkeypatch.setattr("connector.cli.calibrate.build_runtime", lambda: runtime)
    target = tmp_path / "proposed.yaml"
    answer = CliRunner().invoke(cli, ["calibrate", "--write", str(target)])
    assert answer.exit_code == 2
    assert answer.output.startswith(f"error: nothing written to {target}: ")
    assert "Traceback" not in answer.output
    assert not target.exists()
