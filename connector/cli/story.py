"""The demo's story: install, a full sync, then a few weeks of program life through webhooks.

Every change is made as a HubSpot user would make it, through the sandbox's control API, so
the sandbox sends signed webhooks; the worker's drain and the outbox flush do the rest. The
weeks are compressed into seconds: timestamps are real, so the report's weeks show one week.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import func, select

from connector.cli.installer import Installer
from connector.db.models import ContactState, Referral, ReferralRejection, RewardLedger
from connector.db.session import transaction
from connector.program.counters import EARNED
from connector.program.payouts import payable_by_hand
from connector.program.rewards import release_held
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.sandbox.values import iso_ms, now_ms
from connector.sync.passes import run_sync
from connector.worker.drain import drain_inbox
from connector.worker.loop import flush_outbox
from connector.worker.payouts import pay_rewards
from connector.worker.shares import announce_new_clicks

SETTLE_TIMEOUT_S = 60.0
NEW_PROMOTERS = 60
NEW_DETRACTORS = 5
REFERRING_ADVOCATES = 30
SHARING_ONLY = 15  # advocates whose links are clicked, by people who do not sign up (yet)
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/17.2 Safari/605.1.15")
PREVIEWER = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
CONVERTING_SHARE = 0.6


class Story:
    """Plays the demo's weeks against a running sandbox and web app."""

    def __init__(self, say: Callable[[str], None], runtime: Runtime,
                 sandbox: SandboxHandle, seed: int = 11) -> None:
        self.say, self.runtime, self.sandbox = say, runtime, sandbox
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.friends = 0
        self.visitors = 0

    # -- plumbing ----------------------------------------------------------------------

    def _control(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.http.post(f"{self.sandbox.url}/_sandbox{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def edit(self, contact_id: str, properties: dict[str, str]) -> None:
        """Change a contact as a user in HubSpot would: the sandbox sends the webhook."""
        self._control(f"/contacts/{contact_id}/properties", properties)

    def create(self, rows: list[dict[str, str]]) -> list[str]:
        """Create contacts as a form submission would: the sandbox sends contact.creation."""
        return list(self._control("/contacts", {"contacts": rows})["ids"])

    def settle(self) -> tuple[int, int]:
        """Wait for the sandbox's webhooks, drain the inbox and flush the outbox until quiet."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        handled = sent = 0
        while True:
            while self.sandbox.stats()["webhooks"]["pending"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the sandbox's webhooks did not arrive in time")
                time.sleep(0.05)
            summary = drain_inbox(self.runtime)
            announce_new_clicks(self.runtime)
            flushed = flush_outbox(self.runtime)
            handled, sent = handled + summary.handled, sent + flushed
            if not (summary.handled or flushed or self.sandbox.stats()["webhooks"]["pending"]):
                return handled, sent
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not settle in time")

    def count(self, statement: Any) -> int:
        """One number from the connector's database."""
        with self.runtime.sessions() as session:
            return int(session.scalar(statement) or 0)

    def ids(self, statement: Any) -> list[str]:
        """Contact ids from the connector's database."""
        with self.runtime.sessions() as session:
            return [str(i) for i in session.scalars(statement)]

    # -- the weeks ---------------------------------------------------------------------

    def play(self) -> None:
        """Install, sync, then the weeks of the program."""
        self.install()
        self.first_sync()
        self.survey_week()
        self.referral_week()
        self.conversion_week()
        self.payout_day()

    def install(self) -> None:
        """`connector install`: the property group, properties and the program's flows."""
        plan = Installer(self.runtime.gateway, self.runtime.property_schema,
                         self.runtime.program).plan()
        changes = len(plan.changes)
        plan.apply()
        self.say(f"install: {changes} change(s) made in HubSpot (property group, properties, "
                 "workflows)")

    def first_sync(self) -> None:
        """A full sync scores everyone, writes the scores and invites the ready advocates."""
        summary = run_sync(self.runtime, full=True)
        self.settle()
        invited = self.count(select(func.count()).where(ContactState.invited_at.is_not(None)))
        self.say(f"full sync: {summary.read:,} contacts scored, {summary.written:,} records "
                 f"updated in {summary.elapsed_s:.1f}s; {invited} ready advocates invited")

    def survey_week(self) -> None:
        """Week 1: NPS answers and product milestones arrive; promoters become advocates."""
        invited_before = self.count(
            select(func.count()).where(ContactState.invited_at.is_not(None)))
        nurture = self.ids(select(ContactState.contact_id).where(
            ContactState.tier.in_(("nurture", "not_ready")), ContactState.invited_at.is_(None))
            .order_by(ContactState.score.desc()).limit(NEW_PROMOTERS))
        today = iso_ms(now_ms())
        for contact_id in nurture:
            self.edit(contact_id, {
                "lifecyclestage": "customer", "hs_feedback_last_nps_rating": "10",
                "hs_feedback_last_survey_date": today, "success_milestones_reached": "6",
                "product_logins_30d": "30", "open_support_escalations": "0",
            })
        invited = self.ids(select(ContactState.contact_id).where(
            ContactState.invited_at.is_not(None)).limit(NEW_DETRACTORS))
        for contact_id in invited:
            self.edit(contact_id, {"hs_feedback_last_nps_rating": "3",
                                   "hs_feedback_last_survey_date": today})
        handled, _ = self.settle()
        invited_after = self.count(
            select(func.count()).where(ContactState.invited_at.is_not(None)))
        self.say(f"week 1: {len(nurture)} customers answered NPS 10 and reached milestones, "
                 f"{len(invited)} invited advocates answered NPS 3; {handled} webhook events "
                 f"handled, {invited_after - invited_before} new advocates invited, "
                 "the detractors no longer asked")

    def _friend(self, code: str, domain: str, **extra: str) -> dict[str, str]:
        self.friends += 1
        code_property = self.runtime.property_schema.name("referred_by_code")
        return {"email": f"friend{self.friends}@{domain}", "firstname": "Friend",
                "lastname": str(self.friends), "lifecyclestage": "lead",
                code_property: code, **extra}

    def click(self, link: str, agent: str = BROWSER) -> str:
        """Someone opens an advocate's share link; the code the landing page's form gets."""
        self.visitors += 1
        if agent == BROWSER:  # every visitor its own browser build: one person each
            agent = agent.replace("605.1.15", f"605.1.{self.visitors}")
        answer = self.http.get(link, allow_redirects=False, timeout=10,
                               headers={"User-Agent": agent})
        assert answer.status_code == 302, answer.status_code
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        code_property = self.runtime.property_schema.name("referred_by_code")
        return (query.get(code_property) or [""])[0]

    def referral_week(self) -> None:
        """Week 2: advocates share their links; friends click them and sign up on the landing
        page (its form's hidden field holds the code), or type the code themselves."""
        with self.runtime.sessions() as session:
            advocates = session.execute(
                select(ContactState.contact_id, ContactState.referral_code).where(
                    ContactState.referral_code.is_not(None), ContactState.tier != "excluded")
                .order_by(ContactState.contact_id)
                .limit(REFERRING_ADVOCATES + SHARING_ONLY)).all()
        records = [self.sandbox.portal.get_contact(a) for a, _ in advocates]
        links = [str(r.properties.get("referral_link") or "") for r in records if r is not None]
        codes = [code for _, code in advocates[:REFERRING_ADVOCATES]]
        previews = 0
        for link in links:  # shared in a chat: the chat's preview opens it first
            self.click(link, PREVIEWER)
            previews += 1
            for _ in range(self.rng.randrange(4)):  # people who look and leave
                self.click(link)
        rows = []
        for n, code in enumerate(codes):
            assert code is not None
            for _ in range(1 + self.rng.randrange(3) if n % 3 == 0 else 1):
                # most friends come through the link; some type the code, in lower case
                typed = (code.lower() if self.rng.random() < 0.2
                         else self.click(links[n]))
                rows.append(self._friend(typed, f"company{self.friends + 1}.example"))
        rows.append(self._friend("NOSUCHCODE", "company-x.example"))
        if codes:
            assert codes[0] is not None
            rows.append(self._friend(codes[0], "mailinator.com"))
            today = iso_ms(now_ms())
            rows.append(self._friend(codes[-1] or "", "already.example",
                                     lifecyclestage="customer",
                                     hs_lifecyclestage_customer_date=today))
        self.create(rows)
        handled, _ = self.settle()
        self.say(f"week 2: {self.visitors - previews} clicks by people on {len(links)} advocates' "
                 f"share links ({previews} link previews not counted); {len(rows)} friends "
                 f"signed up with codes of {len(codes)} advocates; {handled} events handled; "
                 f"{self.claims()}")

    def claims(self) -> str:
        """What became of the friends' claims, in words, from the referral tables."""
        with self.runtime.sessions() as session:
            credited = session.scalar(select(func.count()).select_from(Referral)
                                      .where(Referral.status == "attributed")) or 0
            review = Counter(reason or "no reason recorded" for reason in session.scalars(
                select(Referral.review_reason).where(Referral.status == "review")))
            rejected = Counter(session.scalars(select(ReferralRejection.reason)))
        return (f"{credited} referrals credited, {sum(review.values())} in fraud review"
                f"{_reasons(review)}, {sum(rejected.values())} claims rejected"
                f"{_reasons(rejected)}")

    def conversion_week(self) -> None:
        """Week 3: most referred friends become customers; rewards are granted exactly once."""
        referred = self.ids(select(Referral.referred_contact_id).where(
            Referral.status.in_(("attributed", "review"))).order_by(Referral.id))
        converting = referred[: max(1, int(len(referred) * CONVERTING_SHARE))]
        today = iso_ms(now_ms())
        revenue_property = self.runtime.program.revenue_property
        for contact_id in converting:
            # a first order of a few thousand, recorded on the contact as HubSpot's
            # total_revenue is (the program reads it at conversion for the report)
            first_order = 100 * self.rng.randint(12, 240)
            self.edit(contact_id, {"lifecyclestage": "customer",
                                   "hs_lifecyclestage_customer_date": today,
                                   revenue_property: str(first_order)})
        handled, sent = self.settle()
        # a later change to a converted friend runs the program again: nothing is paid twice
        if converting:
            self.edit(converting[0], {"hs_feedback_last_nps_rating": "9"})
            self.settle()
        with self.runtime.sessions() as session:
            converted = session.scalar(select(func.count()).select_from(Referral)
                                       .where(Referral.status == "converted")) or 0
            revenue = session.scalar(select(func.sum(Referral.revenue))
                                     .where(Referral.status == "converted")) or 0
            rewards = Counter(session.scalars(select(RewardLedger.status)))
        earned = sum(rewards[s] for s in EARNED)
        self.say(f"week 3: {len(converting)} referred friends became customers; {handled} "
                 f"events handled, {converted} referrals converted ({float(revenue):,.2f} of "
                 f"revenue), {earned} rewards earned by advocates and friends "
                 f"({rewards['held']} held for the hold period, {rewards['payable']} payable, "
                 f"{rewards['pending_approval']} waiting for approval), {sent} HubSpot writes "
                 "and enrollments sent")


    def payout_day(self) -> None:
        """The hold ends: the clock makes rewards payable, the worker pays the advocates'
        through the gift-card provider (the sandbox's Tremendous), each exactly once; the
        friends' discounts wait for a person (`connector rewards payable`)."""
        later = datetime.now(UTC) + timedelta(days=self.runtime.program.hold_days + 1)
        with transaction(self.runtime.sessions) as session:
            released = release_held(session, self.runtime.program, later)
        paid = pay_rewards(self.runtime, now=later)
        again = pay_rewards(self.runtime, now=later + timedelta(minutes=5))
        _handled, sent = self.settle()
        orders = self.http.get(f"{self.sandbox.url}/_sandbox/payouts/orders", timeout=10)
        with self.runtime.sessions() as session:
            amount = session.scalar(select(func.coalesce(func.sum(RewardLedger.amount), 0))
                                    .where(RewardLedger.status == "paid")) or 0
            by_hand = len(payable_by_hand(session, self.runtime.program))
            waiting = self.count(select(func.count()).select_from(RewardLedger).where(
                RewardLedger.status == "pending_approval"))
        self.say(f"day {self.runtime.program.hold_days + 22}: the hold ended for {released} "
                 f"rewards; {paid.paid} paid through Tremendous ({float(amount):,.2f} USD, "
                 f"{len(orders.json()['orders'])} gift card orders; a second run paid "
                 f"{again.paid}), {by_hand} friends' rewards listed for a person to pay, "
                 f"{waiting} waiting for approval; {sent} HubSpot writes sent")


def _reasons(counts: Counter[str]) -> str:
    """` (reason: n, ...)` for a non-empty tally, else nothing."""
    if not counts:
        return ""
    return " (" + ", ".join(f"{reason}: {n}" for reason, n in counts.most_common()) + ")"
