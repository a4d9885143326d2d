"""Attribution: a contact that arrives with `referred_by_code` is credited to the advocate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, Referral
from connector.hubspot.records import Contact
from connector.program.codes import advocate_for_code, normalise_code
from connector.program.config import ProgramConfig
from connector.program.context import PageContext
from connector.program.dates import parse_time
from connector.program.store import insert_once, record_rejection

# webmail domains are shared by strangers: a same-domain rule never applies to them
WEBMAIL = frozenset({"gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "hotmail.com",
                     "live.com", "icloud.com", "me.com", "aol.com", "proton.me",
                     "protonmail.com", "gmx.com", "gmx.de", "web.de", "yandex.ru"})
# HubSpot stamps the customer date when the stage is set: within this of the creation
# the contact was created (imported) as a customer
CREATED_AS_CUSTOMER = timedelta(minutes=1)


@dataclass(frozen=True)
class Claim:
    """What a referred contact says about itself, read from its HubSpot properties."""

    contact_id: str
    code: str
    email: str | None
    created_at: datetime | None
    stage: str | None
    customer_at: datetime | None
    revenue: Decimal | None = None


def claim_of(contact: Contact, code_property: str, revenue_property: str = "") -> Claim:
    """The referral claim carried by a contact (its code may be empty)."""
    props = contact.properties
    return Claim(
        contact_id=contact.id, code=normalise_code(props.get(code_property)),
        email=(props.get("email") or "").strip().lower() or None,
        created_at=parse_time(contact.created_at) or parse_time(props.get("createdate")),
        stage=props.get("lifecyclestage"),
        customer_at=parse_time(props.get("hs_lifecyclestage_customer_date")),
        revenue=money(props.get(revenue_property)) if revenue_property else None,
    )


def money(value: object) -> Decimal | None:
    """A HubSpot number property as an amount; None when empty or not a finite number."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return amount if value is not None and amount.is_finite() else None


def domain(email: str | None) -> str:
    """The part after @, lower case."""
    return (email or "").rpartition("@")[2].lower()


def rejection_reason(program: ProgramConfig, claim: Claim, advocate: ContactState | None,
                     now: datetime) -> str | None:
    """Why this claim credits nothing, or None when it is valid."""
    if advocate is None:
        return "unknown_code"
    if advocate.deleted_at is not None:
        return "advocate_removed"
    advocate_email = (advocate.email or "").strip().lower()
    if advocate.contact_id == claim.contact_id or (
            program.reject_same_email and claim.email and claim.email == advocate_email):
        return "self_referral"
    if program.same_domain == "reject" and same_company(claim.email, advocate_email):
        return "same_domain"
    if claim.stage == program.conversion_stage:
        created, customer_at = claim.created_at, claim.customer_at
        if (created is None or customer_at is None or customer_at <= created + CREATED_AS_CUSTOMER
                or now - created > timedelta(days=program.window_days)):
            return "already_customer"
    return None


def review_reason(session: Session, program: ProgramConfig, claim: Claim,
                  advocate: ContactState, now: datetime) -> str | None:
    """Why a valid claim needs a person's look before the advocate is paid (weak evidence)."""
    if domain(claim.email) in program.disposable_domains:
        return f"disposable email domain {domain(claim.email)}"
    if program.same_domain == "review" and same_company(claim.email, advocate.email):
        return "friend on the advocate's company domain"
    limit = program.max_referrals_per_day
    if limit is not None:
        today = session.scalar(select(func.count()).select_from(Referral).where(
            Referral.advocate_contact_id == advocate.contact_id,
            Referral.attributed_at > now - timedelta(days=1)))
        if (today or 0) >= limit:
            return f"velocity: more than {limit} referrals from one advocate in a day"
    return None


def same_company(email: str | None, other: str | None) -> bool:
    """Both addresses on one company domain (webmail does not count)."""
    mine, theirs = domain(email), domain(other)
    return bool(mine) and mine == theirs and mine not in WEBMAIL


def attribute(session: Session, program: ProgramConfig, claim: Claim, now: datetime, *,
              page: PageContext | None = None) -> tuple[Referral | None, bool]:
    """Credit the claim to its advocate; (the contact's referral or None, whether it is new)."""
    if page is not None and page.knows(claim.contact_id):
        existing = page.referrals.get(claim.contact_id)
    else:
        existing = session.scalar(
            select(Referral).where(Referral.referred_contact_id == claim.contact_id))
    if existing is not None or not claim.code:
        if existing is not None and claim.code and existing.code != claim.code:
            record_rejection(session, contact_id=claim.contact_id, code=claim.code,
                             reason="already_referred", advocate_id=None)
        return existing, False
    advocate = advocate_for_code(session, claim.code)
    reason = rejection_reason(program, claim, advocate, now)
    if reason is not None:
        record_rejection(session, contact_id=claim.contact_id, code=claim.code, reason=reason,
                         advocate_id=advocate.contact_id if advocate else None)
        return None, False
    assert advocate is not None
    review = review_reason(session, program, claim, advocate, now)
    new_id = insert_once(session, Referral, {
        "referred_contact_id": claim.contact_id, "advocate_contact_id": advocate.contact_id,
        "code": claim.code, "status": "review" if review else "attributed",
        "review_reason": review,
        "referred_created_at": claim.created_at or now, "attributed_at": now,
    }, ["referred_contact_id"])
    referral = session.scalar(
        select(Referral).where(Referral.referred_contact_id == claim.contact_id)
        .execution_options(populate_existing=True))
    if new_id is None and referral is not None and referral.code != claim.code:
        # another worker attributed this contact first, with another code
        record_rejection(session, contact_id=claim.contact_id, code=claim.code,
                         reason="already_referred", advocate_id=advocate.contact_id)
    return referral, new_id is not None
