"""A person's decision on a reward that waits for one: the single use case the CLI
(`connector rewards approve|reject`) and the dashboard's buttons both call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connector.db.models import RewardLedger
from connector.program.announce import announce_reward
from connector.program.rewards import decide_pending
from connector.program.setup import ProgramSetup


def decide_reward(session: Session, setup: ProgramSetup, reward_id: int, *, approve: bool,
                  by: str, reason: str | None, now: datetime) -> RewardLedger:
    """Approve or reject a waiting reward, once; raises RewardDecisionError otherwise.

    An approved reward serves what is left of the program's hold (`held` until then) and is
    announced to HubSpot (enrollment and counters) through the outbox, in the caller's
    transaction.
    """
    ledger = decide_pending(session, reward_id, approve=approve, by=by, reason=reason, now=now,
                            hold_days=setup.program.hold_days)
    if approve:
        announce_reward(session, setup, ledger)
    return ledger
