"""An advocate's counters, always recomputed from the referral table and the ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger
from connector.hubspot.schema import PropertySchema

# a cancelled referral (deleted friend, merged duplicate) no longer counts as made
COUNTED = ("attributed", "review", "converted", "expired")
# rewards the advocate has earned: held (inside the hold period) or payable; `granted` is
# the status of rows written before the hold period existed
# earned stays earned while it is paid out: sending, paid, and failed (a person will pay it)
EARNED = ("granted", "held", "payable", "sending", "paid", "failed")


@dataclass(frozen=True)
class Counters:
    made: int
    converted: int
    earned: Decimal


def counters_for(session: Session, contact_id: str) -> Counters:
    """Referrals made and converted by this contact, and the value of its granted rewards
    (one round trip: the contact card asks for them on every view)."""
    made = select(func.count()).select_from(Referral).where(
        Referral.advocate_contact_id == contact_id, Referral.status.in_(COUNTED))
    converted = select(func.count()).select_from(Referral).where(
        Referral.advocate_contact_id == contact_id, Referral.status == "converted")
    earned = select(func.coalesce(func.sum(RewardLedger.amount), 0)).where(
        RewardLedger.contact_id == contact_id, RewardLedger.status.in_(EARNED))
    row = session.execute(select(made.scalar_subquery(), converted.scalar_subquery(),
                                 earned.scalar_subquery())).one()
    return Counters(int(row[0] or 0), int(row[1] or 0), Decimal(str(row[2] or 0)))


def page_counters(session: Session, contact_ids: Sequence[str]) -> dict[str, Counters]:
    """`counters_for` of many contacts in two queries (contacts without any are left out)."""
    made: dict[str, int] = defaultdict(int)
    converted: dict[str, int] = defaultdict(int)
    earned: dict[str, Decimal] = {}
    ids = list(contact_ids)
    for advocate_id, status, n in session.execute(
            select(Referral.advocate_contact_id, Referral.status, func.count())
            .where(Referral.advocate_contact_id.in_(ids), Referral.status.in_(COUNTED))
            .group_by(Referral.advocate_contact_id, Referral.status)):
        made[advocate_id] += int(n)
        if status == "converted":
            converted[advocate_id] += int(n)
    for contact_id, total in session.execute(
            select(RewardLedger.contact_id, func.sum(RewardLedger.amount))
            .where(RewardLedger.contact_id.in_(ids), RewardLedger.status.in_(EARNED))
            .group_by(RewardLedger.contact_id)):
        earned[contact_id] = Decimal(str(total or 0))
    return {cid: Counters(made[cid], converted[cid], earned.get(cid, Decimal(0)))
            for cid in {*made, *earned}}


def number_text(value: Decimal | int) -> str:
    """A number as HubSpot shows it: `50`, `12.5`, never `5E+1`."""
    return format(Decimal(value).normalize(), "f")


def counter_properties(schema: PropertySchema, counters: Counters) -> dict[str, str]:
    """The counters as HubSpot properties (names from mappings/properties.yaml)."""
    name = schema.name
    return {
        name("referrals_made"): number_text(counters.made),
        name("referrals_converted"): number_text(counters.converted),
        name("referral_rewards_earned"): number_text(counters.earned),
    }
