"""What the contact-record card shows, from the connector's own tables only (no HubSpot call):
readiness and its reasons, the guardrail that excludes, the referral code and link, referrals
made and converted, the contact's rewards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, RewardLedger
from connector.program.config import ProgramConfig
from connector.program.counters import counters_for, number_text
from connector.report.health import iso
from connector.scoring.mapping import Mapping

EXCLUDED = " (excluded)"  # how scoring words a guardrail that applied (scoring.engine)
REASON_SEPARATOR = "; "


def card_of(session: Session, mapping: Mapping, program: ProgramConfig,
            contact_id: str) -> dict[str, Any]:
    """The card's JSON for one contact; `{"scored": false}` for a contact not scored yet."""
    state = session.get(ContactState, contact_id)
    if state is None or state.scored_at is None or state.deleted_at is not None:
        return {"contact_id": contact_id, "scored": False}
    reasons = [r for r in (state.reasons or "").split(REASON_SEPARATOR) if r]
    guardrail_of = {g.reason: g.key for g in mapping.guardrails}
    excluded_by = [{"guardrail": guardrail_of.get(r[: -len(EXCLUDED)], ""),
                    "reason": r[: -len(EXCLUDED)]}
                   for r in reasons if r.endswith(EXCLUDED)]
    counters = counters_for(session, contact_id)
    rewards = session.scalars(select(RewardLedger).where(RewardLedger.contact_id == contact_id)
                              .order_by(RewardLedger.id))
    code = state.referral_code
    return {
        "contact_id": contact_id,
        "scored": True,
        "score": state.score,
        "tier": state.tier,
        "reasons": reasons,
        "excluded_by": excluded_by,
        "referral": {"code": code, "link": program.link(code) if code else None,
                     "status": state.journey_state, "made": counters.made,
                     "converted": counters.converted},
        "rewards": [{"id": r.id, "role": r.role, "amount": number_text(r.amount),
                     "unit": r.unit, "state": r.status} for r in rewards],
        "scored_at": iso(state.scored_at),
    }
