"""What time makes due in the program besides reminders and holds: open referrals still
inside their window, whose friends' deals the clock reads in case a webhook was missed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, func, select

from connector.db.models import Referral
from connector.program import rewards
from connector.program.config import ProgramConfig

# a deal won on the window's last day whose webhook was missed is still caught this long after
CATCH_UP_GRACE = timedelta(days=2)


def open_referrals(program: ProgramConfig, now: datetime) -> Select[str, datetime]:
    """(referred contact id, created) of open referrals inside their window, oldest first."""
    created = func.coalesce(Referral.referred_created_at, Referral.attributed_at)
    oldest = now - timedelta(days=program.window_days) - CATCH_UP_GRACE
    return (select(Referral.referred_contact_id, created)
            .where(Referral.status.in_(rewards.OPEN), Referral.conversion_key.is_(None),
                   created >= oldest)
            .order_by(created, Referral.id))
