"""The program in numbers, for the report and the dashboard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, Referral, ReferralRejection, RewardLedger
from connector.program.counters import COUNTED, number_text


def program_counts(session: Session) -> dict[str, Any]:
    """Invited, joined and active advocates, referrals, rejections by reason, rewards by status.

    `rewards` maps each status to {"count": n, "value": "total amount"} (units mixed as
    configured; one unit per program is the normal case).
    """
    def count(statement: Any) -> int:
        return int(session.scalar(statement) or 0)

    rejected = dict(session.execute(
        select(ReferralRejection.reason, func.count()).group_by(ReferralRejection.reason)
    ).all())
    rewards: dict[str, dict[str, Any]] = {}
    for status, role, n, value in session.execute(
            select(RewardLedger.status, RewardLedger.role, func.count(),
                   func.coalesce(func.sum(RewardLedger.amount), 0))
            .group_by(RewardLedger.status, RewardLedger.role)):
        entry = rewards.setdefault(status, {"count": 0, "value": Decimal(0), "by_role": {}})
        entry["count"] += int(n)
        entry["value"] += Decimal(str(value))
        entry["by_role"][role] = int(n)
    for entry in rewards.values():
        entry["value"] = number_text(entry["value"])
    referrals = select(func.count()).select_from(Referral)
    return {
        "invited": count(select(func.count()).select_from(ContactState)
                         .where(ContactState.invited_at.is_not(None))),
        "joined": count(select(func.count(distinct(Referral.advocate_contact_id)))
                        .where(Referral.status.in_(COUNTED))),
        "active_advocates": count(select(func.count(distinct(Referral.advocate_contact_id)))
                                  .where(Referral.status == "converted")),
        "referrals_made": count(referrals.where(Referral.status.in_(COUNTED))),
        "in_review": count(referrals.where(Referral.status == "review")),
        "converted": count(referrals.where(Referral.status == "converted")),
        "expired": count(referrals.where(Referral.status == "expired")),
        "cancelled": count(referrals.where(Referral.status == "cancelled")),
        "rejected": {str(k): int(v) for k, v in sorted(rejected.items())},
        "rewards": dict(sorted(rewards.items())),
    }
