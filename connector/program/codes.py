"""Referral codes: short, unguessable, unambiguous when read aloud, unique in the database."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import ContactState

# no 0/O, 1/I/L: codes are typed from emails and read over the phone
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8  # 31**8, about 8.5e11 codes: guessing one is hopeless at HubSpot's form rates
ATTEMPTS = 10


class CodeSpaceExhausted(RuntimeError):
    """Ten random codes in a row were taken: something is wrong with the generator."""


def new_code() -> str:
    """A random code from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise_code(raw: str | None) -> str:
    """The form codes are compared in: case-insensitive, surrounding spaces ignored."""
    return (raw or "").strip().upper()


def unused_code(session: Session) -> str:
    """A code no contact holds yet; the UNIQUE column stops the rare race between workers."""
    pending = {s.referral_code for s in session.new if isinstance(s, ContactState)}
    for _ in range(ATTEMPTS):
        code = new_code()
        taken = session.scalar(
            select(ContactState.contact_id).where(ContactState.referral_code == code)
        )
        if taken is None and code not in pending:
            return code
    raise CodeSpaceExhausted("no unused referral code after 10 attempts")


def advocate_for_code(session: Session, code: str) -> ContactState | None:
    """The advocate holding a code, following merges to the surviving contact."""
    if not code:
        return None
    state = session.scalar(select(ContactState).where(ContactState.referral_code == code))
    seen: set[str] = set()
    while state is not None and state.merged_into and state.contact_id not in seen:
        seen.add(state.contact_id)
        state = session.get(ContactState, state.merged_into)
    return state
