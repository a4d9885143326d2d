"""`connector demo`: the whole story on a bare machine, ending by itself with the report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, Referral, ReferralRejection, RewardLedger
from connector.db.session import make_engine
from connector.program.counters import EARNED
from connector.report.numbers import build_report


def printed(out: str, label: str) -> int:
    """The number on the report's table row that starts with `label`."""
    [number] = re.findall(rf"│ {re.escape(label)}\s*│\s*([\d,]+) │", out)
    return int(number.replace(",", ""))


@pytest.mark.slow
def test_demo_runs_the_program_end_to_end(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "CONNECTOR_", "DATABASE_URL", "DASHBOARD_"))}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo", "--dir", str(tmp_path / "demo")],
        env={**env, "COLUMNS": "120"}, capture_output=True, text=True, timeout=240,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for step in ("install:", "full sync:", "week 1:", "week 2:", "week 3:",
                 "Advocate program report", "demo finished"):
        assert step in out, step
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'connector.db'}")
    try:
        with Session(engine) as session:
            report = build_report(session)
            ledger_granted = session.scalar(select(func.count()).select_from(RewardLedger)
                                            .where(RewardLedger.status.in_(EARNED)))
            rewarded_advocates = session.scalar(
                select(func.count(func.distinct(RewardLedger.contact_id)))
                .where(RewardLedger.status.in_(EARNED), RewardLedger.role == "advocate"))
            converted = session.scalar(select(func.count()).select_from(Referral)
                                       .where(Referral.status == "converted"))
            invited = session.scalar(select(func.count()).select_from(ContactState)
                                     .where(ContactState.invited_at.is_not(None)))
            statuses = Counter(session.scalars(select(Referral.status)))
            revenue = session.scalar(select(func.sum(Referral.revenue))
                                     .where(Referral.status == "converted"))
            rejections = session.scalar(select(func.count()).select_from(ReferralRejection))
            rewards = Counter(session.scalars(select(RewardLedger.status)))
            held_by_limit = session.scalar(select(func.count()).select_from(RewardLedger).where(
                RewardLedger.status == "pending_approval",
                RewardLedger.reason.like("daily payout limit%")))
            paid_value = session.scalar(select(func.sum(RewardLedger.amount))
                                        .where(RewardLedger.status == "paid"))
    finally:
        engine.dispose()
    funnel = report["funnel"]
    assert funnel["invited"] == invited > 0
    # the story's links were clicked: more advocates shared than got a friend to sign up
    assert funnel["eligible"] >= funnel["invited"] > funnel["shared"] > funnel["referred"]
    assert report["clicks"]["unique"] > funnel["shared"]
    assert funnel["referred"] > 0 and report["referrals"]["made"] > 0
    assert report["referrals"]["converted"] == converted > 0
    assert funnel["rewarded"] == rewarded_advocates > 0
    assert report["rewards"]["granted"]["count"] == ledger_granted
    # double-sided: each conversion granted the advocate's and the friend's reward, once (the
    # ones the daily payout limit holds wait for a person's approval)
    assert ledger_granted + held_by_limit == 2 * converted
    # the hold ended: the advocates' gift cards went out through the provider, one order each
    payout = re.search(r"(\d+) paid through Tremendous \(([\d,.]+) USD, (\d+) gift card "
                       r"orders; a second run paid (\d+)\)", out)
    assert payout, out[:3000]
    assert int(payout[1]) == rewards["paid"] == int(payout[3]) > 0
    assert int(payout[4]) == 0
    assert float(payout[2].replace(",", "")) == float(paid_value)
    assert report["rewards_granted_by_state"]["paid"]["count"] == rewards["paid"]
    assert printed(out, "  paid") == rewards["paid"]
    assert report["referrals"]["rejected"], "the story includes rejected claims"
    # the printed report says the same
    assert printed(out, "Invited") == invited
    assert printed(out, "Referrals made") == report["referrals"]["made"]
    assert printed(out, "Converted") == converted
    assert printed(out, "Rewarded") == rewarded_advocates
    # week 2 says what the tables hold: credited, in fraud review and why, rejected and why
    week2 = re.search(r"(\d+) referrals credited, (\d+) in fraud review \((.+?)\), "
                      r"(\d+) claims rejected \((.+?)\)", out)
    assert week2, out[:3000]
    # every referral was made in week 2; none in review converted since
    assert int(week2[1]) + int(week2[2]) == report["referrals"]["made"]
    assert int(week2[2]) == statuses["review"] == report["review"]["count"] > 0
    assert week2[3] == "disposable email domain mailinator.com: 1"
    assert int(week2[4]) == rejections == sum(report["referrals"]["rejected"].values())
    assert "disposable" not in week2[5]  # a disposable email is reviewed, not rejected
    # the conversions recorded the friends' revenue, and the report adds it up
    assert revenue is not None and revenue > 0
    assert report["revenue"]["referral_sourced"] == round(float(revenue), 2)
    assert "n/a: no revenue" not in out
    # earned rewards split into held and payable, as the ledger has them
    split = report["rewards_granted_by_state"]
    assert (split["held"]["count"], split["payable"]["count"]) == (
        rewards["held"], rewards["payable"])
    assert printed(out, "  held: inside the hold period") == rewards["held"]
    assert printed(out, "In fraud review") == statuses["review"]
    # the retry cursor is bookkeeping, not a sync pass
    assert "Sync `retry`" not in out and printed(out, "Writes to retry at the next sync") == 0
    # the closing lines tell a newcomer what to do next
    closing = out[out.index("demo finished"):]
    top = report["top_advocates"][0]["contact_id"]
    for words in ("connector demo --serve", f"connector score {top} --explain",
                  str(tmp_path / "demo" / "connector.db"), "make test"):
        assert words in closing, words
    print(f"demo took {elapsed:.0f}s")


@pytest.mark.slow
def test_demo_serve_keeps_the_dashboard_up_until_interrupted(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "CONNECTOR_", "DATABASE_URL", "DASHBOARD_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "demo", "--serve", "--contacts", "300",
         "--dir", str(tmp_path / "demo")],
        env={**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        out = "".join(lines)
        url = re.search(r"Dashboard\s+(http://\S+/dashboard)", out)
        token = re.search(r"Token\s+(\S+)", out)
        assert url and token, out[-2000:]
        data = requests.get(url.group(1) + "/data.json", timeout=10,
                            headers={"Authorization": f"Bearer {token.group(1)}"})
        assert data.status_code == 200
        assert data.json()["funnel"]["invited"] > 0
        assert requests.get(url.group(1) + "/data.json", timeout=10).status_code == 401
        # the dashboard shows what the report shows: held/payable, the review queue, no retry pass
        page = requests.get(url.group(1), timeout=10,
                            headers={"Authorization": f"Bearer {token.group(1)}"}).text
        for words in ('class="reward-held"', 'class="reward-payable"', 'id="review-queue"',
                      "disposable email domain mailinator.com",
                      "Writes to retry at the next sync"):
            assert words in page, words
        assert "<code>retry</code>" not in page
        # the printed `connector score ... --explain` line works while the demo serves
        line = next(x for x in lines if "connector score" in x and "HUBSPOT_BASE_URL=" in x)
        words = line.split()
        start = words.index("connector")
        assignments = dict(w.split("=", 1) for w in words[:start])
        command = words[start + 1:]
        scored = subprocess.run([sys.executable, "-m", "connector.cli", *command],
                                env={**env, **assignments, "COLUMNS": "120"},
                                capture_output=True, text=True, timeout=60)
        assert scored.returncode == 0, scored.stderr[-2000:]
        assert command[1] in scored.stdout
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
