"""What the program needs about a whole page of contacts, loaded in a few queries.

`on_contact` used to ask the database eight times per contact (its referral, its counters
twice, its friend reward, a free code); on a sync page of 200 that was most of the pass.
A PageContext answers those questions from a handful of queries made once per page. A
decision that changes a contact's facts during the page (a new referral, a conversion)
marks the contacts it touches stale, and their next question goes to the database again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import ContactState, Referral, RewardLedger
from connector.program.codes import new_code
from connector.program.counters import Counters, counters_for, page_counters
from connector.program.dates import aware

NO_COUNTERS = Counters(0, 0, Decimal(0))
CODE_POOL = 50  # codes checked per query; a first sync invites many contacts per page


@dataclass
class PageContext:
    """The page's referrals, counters, friend rewards and a pool of free referral codes."""

    contact_ids: frozenset[str]
    referrals: dict[str, Referral]
    counters: dict[str, Counters]
    friend_paid_at: dict[str, datetime]
    free_codes: list[str] = field(default_factory=list)
    codes_given: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)

    def knows(self, contact_id: str) -> bool:
        """Whether this page's answers about the contact are still current."""
        return contact_id in self.contact_ids and contact_id not in self.stale

    def counters_of(self, session: Session, contact_id: str) -> Counters:
        """The contact's counters, from the page when current, else from the database."""
        if not self.knows(contact_id):
            return counters_for(session, contact_id)
        return self.counters.get(contact_id, NO_COUNTERS)

    def unused_code(self, session: Session) -> str:
        """A code no contact holds and this page has not handed out yet."""
        while not self.free_codes:
            self.free_codes = [c for c in free_codes(session, CODE_POOL)
                               if c not in self.codes_given]
        code = self.free_codes.pop()
        self.codes_given.add(code)
        return code

    def touched(self, *contact_ids: str) -> None:
        """A decision changed these contacts' referrals or rewards: ask the database again."""
        self.stale.update(contact_ids)


def prepare_page(session: Session, contact_ids: Sequence[str]) -> PageContext:
    """Load what `on_contact` needs for these contacts: four queries for the whole page."""
    ids = list(dict.fromkeys(contact_ids))
    referrals = {r.referred_contact_id: r for r in session.scalars(
        select(Referral).where(Referral.referred_contact_id.in_(ids)))}
    paid: dict[str, datetime] = {}
    for contact_id, paid_at in session.execute(
            select(RewardLedger.contact_id, RewardLedger.paid_at)
            .where(RewardLedger.contact_id.in_(ids), RewardLedger.role == "friend",
                   RewardLedger.status == "paid")
            .order_by(RewardLedger.id)):
        moment = aware(paid_at)
        if moment is not None:
            paid[contact_id] = moment  # the newest wins, as ordered by id
    return PageContext(frozenset(ids), referrals, page_counters(session, ids), paid)


def free_codes(session: Session, wanted: int) -> list[str]:
    """Up to `wanted` random codes no contact holds, checked in one query."""
    if wanted <= 0:
        return []
    candidates = list(dict.fromkeys(new_code() for _ in range(wanted)))
    taken = set(session.scalars(select(ContactState.referral_code)
                                .where(ContactState.referral_code.in_(candidates))))
    return [code for code in candidates if code not in taken]
