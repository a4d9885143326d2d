"""The program's numbers for a period, from the connector's tables; used by CLI and dashboard."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from connector.db.models import (
    ContactState,
    PortalAccount,
    Referral,
    ReferralRejection,
    RewardLedger,
    ShareClick,
)
from connector.hubspot.account import record_url
from connector.program.counters import COUNTED
from connector.program.links import COUNTED as COUNTED_CLICK
from connector.report.health import aware, connector_state, iso

TIERS = ("champion", "ready", "nurture", "not_ready", "excluded")
# ledger states grouped the way an admin reads them
REWARD_GROUPS = {
    # held: granted, inside its hold period (counted as earned, as on the contact)
    "granted": ("granted", "held", "payable", "sending", "paid", "failed"),
    "pending": ("pending_approval",),
    "blocked": ("blocked", "rejected"),
    "cancelled": ("cancelled",),
}
# the earned rewards one by one: inside the hold period, payable, or granted before holds existed
EARNED_STATES = ("held", "payable", "sending", "paid", "failed", "granted")
TOP_ADVOCATES = 10
# the journey in the order an advocate goes through it; each stage counts the advocates who
# reached at least that stage in the period, so no stage is larger than the one before it
FUNNEL = ("eligible", "invited", "shared", "referred", "converted", "rewarded")


def _within(column: InstrumentedAttribute[Any], since: datetime | None,
            until: datetime | None) -> list[ColumnElement[bool]]:
    """Conditions keeping `column` in [since, until)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _money(value: Decimal | float | int | None) -> float:
    return round(float(value or 0), 2)


def _week(moment: datetime | None) -> str | None:
    """The Monday (ISO week start) of a moment, as YYYY-MM-DD."""
    moment = aware(moment)
    if moment is None:
        return None
    return (moment.date() - timedelta(days=moment.weekday())).isoformat()


def _live_contacts() -> list[ColumnElement[bool]]:
    return [ContactState.deleted_at.is_(None), ContactState.merged_into.is_(None)]


def tier_counts(session: Session) -> dict[str, int]:
    """Contacts per readiness tier now (deleted and merged-away contacts left out)."""
    rows = session.execute(
        select(ContactState.tier, func.count()).where(*_live_contacts())
        .group_by(ContactState.tier)
    ).all()
    counts = {tier: 0 for tier in TIERS}
    for tier, count in rows:
        counts[tier or "unscored"] = counts.get(tier or "unscored", 0) + int(count)
    return counts


def data_quality(session: Session) -> dict[str, Any]:
    """Contacts whose scoring met missing or malformed values, and the most common issues."""
    issues: Counter[str] = Counter()
    contacts = 0
    for found in session.scalars(
        select(ContactState.data_quality_issues).where(
            *_live_contacts(), ContactState.data_quality_issues.is_not(None))
    ):
        if not found:
            continue
        contacts += 1
        for issue in found:
            if isinstance(issue, dict):
                issue = issue.get("signal") or issue.get("property") or issue.get("issue")
            issues[str(issue)] += 1
    return {"contacts": contacts, "issues": dict(issues.most_common(10))}


def _rewards(session: Session, since: datetime | None, until: datetime | None,
             ) -> tuple[dict[str, Any], list[RewardLedger]]:
    """Ledger rows of the period: count and value per group and unit, and the rows."""
    rows = list(session.scalars(
        select(RewardLedger).where(*_within(RewardLedger.created_at, since, until))
        .order_by(RewardLedger.id)
    ))
    summary = {group: _tally([r for r in rows if r.status in statuses])
               for group, statuses in REWARD_GROUPS.items()}
    return summary, rows


def _tally(rewards: list[RewardLedger]) -> dict[str, Any]:
    """Count and value per unit of some ledger rows."""
    value: dict[str, float] = defaultdict(float)
    for reward in rewards:
        value[reward.unit] = round(value[reward.unit] + _money(reward.amount), 2)
    return {"count": len(rewards), "value": dict(value)}


def _earned_states(rows: list[RewardLedger]) -> dict[str, Any]:
    """The granted group split: held (inside the hold), payable, granted before holds existed."""
    return {state: _tally([r for r in rows if r.status == state]) for state in EARNED_STATES}


def _review_queue(referrals: list[Referral]) -> dict[str, Any]:
    """Referrals waiting for a person's look (weak fraud evidence), by the reason given."""
    waiting = [r for r in referrals if r.status == "review"]
    reasons = Counter(r.review_reason or "no reason recorded" for r in waiting)
    return {"count": len(waiting), "by_reason": dict(reasons.most_common())}


def _pending_approval(rows: list[RewardLedger]) -> list[dict[str, Any]]:
    return [
        {"id": r.id, "referral_id": r.referral_id, "role": r.role, "contact_id": r.contact_id,
         "amount": _money(r.amount), "unit": r.unit, "label": r.label, "reason": r.reason,
         "created_at": iso(r.created_at)}
        for r in rows if r.status == "pending_approval"
    ]


def _to_pay(rows: list[RewardLedger], manual_roles: tuple[str, ...]) -> list[dict[str, Any]]:
    """What a person has to pay: payable rewards of the roles paid by hand, and payouts that
    failed (with the provider's reason)."""
    return [
        {"id": r.id, "role": r.role, "contact_id": r.contact_id, "amount": _money(r.amount),
         "unit": r.unit, "label": r.label, "status": r.status,
         "reason": r.payout_error if r.status == "failed" else None}
        for r in rows
        if r.status == "failed" or (r.status == "payable" and r.role in manual_roles)
    ]


def _converted(referral: Referral) -> bool:
    """Converted inside the window and not cancelled since (expired conversions earn nothing)."""
    return referral.status == "converted"


def _retention(referrals: list[Referral]) -> dict[str, Any]:
    """Share of referred customers still counted as converted, against the rest (if known)."""
    ever = [r for r in referrals if r.converted_at is not None]
    kept = [r for r in ever if r.status != "cancelled"]
    return {
        "referred_converted": len(ever),
        "referred_retained": len(kept),
        "referred_rate": round(len(kept) / len(ever), 4) if ever else None,
        "others_rate": None,
        "others_note": "n/a: the connector keeps no lifecycle history of customers who were "
                       "not referred, so there is nothing honest to compare against",
    }


def _revenue(recorded: list[Decimal], source: str) -> dict[str, Any]:
    """Revenue of converted referrals, or None with why when none was recorded."""
    if not recorded:
        return {"referral_sourced": None, "source": source,
                "note": "n/a: no revenue was recorded on converted referrals"}
    return {"referral_sourced": _money(sum(recorded, Decimal(0))), "source": source,
            "note": None}


def _top_advocates(session: Session, referrals: list[Referral], rewards: list[RewardLedger],
                   limit: int) -> list[dict[str, Any]]:
    made: Counter[str] = Counter(r.advocate_contact_id for r in referrals)
    converted: Counter[str] = Counter(r.advocate_contact_id for r in referrals if _converted(r))
    earned: dict[str, float] = defaultdict(float)
    for reward in rewards:
        if reward.role == "advocate" and reward.status in REWARD_GROUPS["granted"]:
            earned[reward.contact_id] += _money(reward.amount)
    ranked = sorted(made, key=lambda a: (-converted[a], -made[a], a))[:limit]
    states = {s.contact_id: s for s in session.scalars(
        select(ContactState).where(ContactState.contact_id.in_(ranked)))} if ranked else {}
    return [
        {"contact_id": advocate, "tier": getattr(states.get(advocate), "tier", None),
         "referral_code": getattr(states.get(advocate), "referral_code", None),
         "referrals": made[advocate], "converted": converted[advocate],
         "rewards_earned": round(earned[advocate], 2)}
        for advocate in ranked
    ]


def _weekly(referrals: list[Referral], converted_rows: list[Referral]) -> list[dict[str, Any]]:
    """Referrals made and conversions per ISO week, with empty weeks filled in."""
    made = Counter(_week(r.attributed_at) for r in referrals)
    won = Counter(_week(r.converted_at) for r in converted_rows)
    weeks = sorted(w for w in set(made) | set(won) if w)
    if not weeks:
        return []
    series, day = [], datetime.fromisoformat(weeks[0]).date()
    last = datetime.fromisoformat(weeks[-1]).date()
    while day <= last:
        week = day.isoformat()
        series.append({"week": week, "referrals": made[week], "conversions": won[week]})
        day += timedelta(days=7)
    return series


def funnel_of(reached: dict[str, set[str]]) -> dict[str, int]:
    """Stage sizes from the contacts each stage's own facts name: a stage also holds everyone
    of the stages after it (a friend signing up with a typed code shows the advocate shared;
    an advocate invited before the period who refers in it was in the program)."""
    counts: dict[str, int] = {}
    later: set[str] = set()
    for stage in reversed(FUNNEL):
        later = later | reached.get(stage, set())
        counts[stage] = len(later)
    return {stage: counts[stage] for stage in FUNNEL}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def clicks(session: Session, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    """Share-link clicks by people in the period: unique per link, visitor and day; those on
    codes that credit nobody by why; per day, empty days filled in."""
    within = _within(ShareClick.clicked_at, since, until)
    by_outcome = {str(k): int(v) for k, v in session.execute(
        select(ShareClick.outcome, func.count()).where(*within)
        .group_by(ShareClick.outcome)).all()}
    per_day: dict[date, int] = {}
    for day, count in session.execute(
            select(ShareClick.day, func.count())
            .where(*within, ShareClick.outcome == COUNTED_CLICK).group_by(ShareClick.day)):
        per_day[day if isinstance(day, date) else date.fromisoformat(str(day))] = int(count)
    daily = ([{"day": d.isoformat(), "clicks": per_day.get(d, 0)}
              for d in _days(min(per_day), max(per_day))] if per_day else [])
    return {"unique": by_outcome.pop(COUNTED_CLICK, 0), "not_credited": by_outcome,
            "daily": daily}


def hubspot_account(session: Session) -> dict[str, Any] | None:
    """The HubSpot account the connector works for, with where its contact records are (None
    until `connector install` or the clock has read it)."""
    account = session.scalars(select(PortalAccount).limit(1)).first()
    if account is None:
        return None
    return {"portal_id": account.portal_id, "ui_domain": account.ui_domain,
            "contact_url": record_url(account.portal_id, account.ui_domain, "")}


def build_report(session: Session, since: datetime | None = None, until: datetime | None = None,
                 *, now: datetime | None = None, min_tier: str = "ready",
                 revenue_source: str = "referral revenue recorded at conversion",
                 top: int = TOP_ADVOCATES, manual_roles: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every number of the program for [since, until) (all time by default), JSON-ready."""
    now = now or datetime.now(UTC)
    tiers = tier_counts(session)
    eligible_tiers = TIERS[: TIERS.index(min_tier) + 1] if min_tier in TIERS else TIERS[:2]
    invited_filter = [ContactState.invited_at.is_not(None),
                      *_within(ContactState.invited_at, since, until)]
    invited_ids = set(session.scalars(select(ContactState.contact_id).where(*invited_filter)))
    attributed = list(session.scalars(
        select(Referral).where(*_within(Referral.attributed_at, since, until))))
    # the program's own rule: cancelled referrals (referred contact removed) do not count
    referrals = [r for r in attributed if r.status in COUNTED]
    advocates = {r.advocate_contact_id for r in referrals}
    sharing = {a for a in session.scalars(select(ShareClick.advocate_contact_id).distinct().where(
        ShareClick.outcome == COUNTED_CLICK, *_within(ShareClick.clicked_at, since, until))) if a}
    eligible_now = set(session.scalars(select(ContactState.contact_id).where(
        *_live_contacts(), ContactState.tier.in_(eligible_tiers))))
    converted = [r for r in referrals if _converted(r)]
    converted_in_period = list(session.scalars(select(Referral).where(
        Referral.status == "converted", *_within(Referral.converted_at, since, until))))
    rejected = dict(session.execute(
        select(ReferralRejection.reason, func.count())
        .where(*_within(ReferralRejection.created_at, since, until))
        .group_by(ReferralRejection.reason).order_by(func.count().desc())
    ).all())
    rewards, reward_rows = _rewards(session, since, until)
    rewarded = {r.contact_id for r in reward_rows
                if r.role == "advocate" and r.status in REWARD_GROUPS["granted"]}
    recorded = [r.revenue for r in converted if r.revenue is not None]
    return {
        "period": {"since": iso(since), "until": iso(until), "generated_at": iso(now)},
        "tiers": tiers,
        # advocates who reached each stage in the period; eligible: in an eligible tier now,
        # or further along in the period (they were eligible when invited)
        "funnel": funnel_of({
            "eligible": eligible_now, "invited": invited_ids, "shared": sharing,
            "referred": advocates, "converted": {r.advocate_contact_id for r in converted},
            "rewarded": rewarded,
        }),
        "clicks": clicks(session, since, until),
        "hubspot": hubspot_account(session),
        "referrals": {
            "made": len(referrals),
            "by_status": dict(Counter(r.status for r in attributed)),
            "rejected": {str(k): int(v) for k, v in rejected.items()},
            "converted": len(converted),
            "conversion_rate": round(len(converted) / len(referrals), 4) if referrals else None,
            "converted_in_period": len(converted_in_period),
            "active_advocates": len(advocates),
        },
        "revenue": _revenue(recorded, revenue_source),
        "retention": _retention(attributed),
        "review": _review_queue(referrals),
        "rewards": rewards,
        "rewards_granted_by_state": _earned_states(reward_rows),
        "rewards_pending_approval": _pending_approval(reward_rows),
        "rewards_to_pay": _to_pay(reward_rows, manual_roles),
        "top_advocates": _top_advocates(session, referrals, reward_rows, top),
        "weekly": _weekly(referrals, converted_in_period),
        "data_quality": data_quality(session),
        "connector": connector_state(session, now),
    }

