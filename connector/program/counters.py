"""An advocate's counters, always recomputed from the referral table and the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger
from connector.hubspot.schema import PropertySchema

# a cancelled referral (deleted friend, merged duplicate) no longer counts as made
COUNTED = ("attributed", "review", "converted", "expired")


@dataclass(frozen=True)
class Counters:
    made: int
    converted: int
    earned: Decimal


def counters_for(session: Session, contact_id: str) -> Counters:
    """Referrals made and converted by this contact, and the value of its granted rewards."""
    made = session.scalar(select(func.count()).select_from(Referral).where(
        Referral.advocate_contact_id == contact_id, Referral.status.in_(COUNTED)))
    converted = session.scalar(select(func.count()).select_from(Referral).where(
        Referral.advocate_contact_id == contact_id, Referral.status == "converted"))
    earned = session.scalar(select(func.coalesce(func.sum(RewardLedger.amount), 0)).where(
        RewardLedger.contact_id == contact_id, RewardLedger.status == "granted"))
    return Counters(int(made or 0), int(converted or 0), Decimal(str(earned or 0)))


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
