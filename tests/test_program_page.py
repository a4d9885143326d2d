"""The per-page context: the same answers as contact by contact, in a few queries per page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fixtures_program import NOW, ProgramHarness
from sqlalchemy import event

from connector.db.models import ContactState
from connector.db.session import transaction
from connector.hubspot.gateway import Contact
from connector.program import hooks
from connector.scoring.model import ReadinessScore


@contextmanager
def counting_queries(program_harness: ProgramHarness) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = program_harness.runtime.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def run_page(program_harness: ProgramHarness, contacts: list[Contact],
             tiers: dict[str, str], now: Any = NOW) -> dict[str, dict[str, str]]:
    """Run the program over one page the way the sync does: prepare, then each contact."""
    runtime = program_harness.runtime
    out = {}
    with transaction(runtime.sessions) as session:
        states = {}
        for contact in contacts:
            state = session.get(ContactState, contact.id)
            if state is None:
                state = ContactState(contact_id=contact.id, journey_state="none", written={})
                session.add(state)
            states[contact.id] = state
        page = hooks.prepare_page(session, runtime, contacts, now)
        for contact in contacts:
            tier = tiers.get(contact.id, "nurture")
            readiness = ReadinessScore(score=80, tier=tier, reasons="test")
            out[contact.id] = hooks.on_contact(session, runtime, contact, readiness,
                                               states[contact.id], now, page)
    return out


def contact(contact_id: str, **properties: str) -> Contact:
    props = {"email": f"person{contact_id}@example.com", "lifecyclestage": "lead",
             **properties}
    return Contact(id=contact_id, properties=props, created_at=NOW - timedelta(days=1))


def test_a_friend_and_its_advocate_on_one_page_see_each_other(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    out = run_page(program_harness, [contact("2", referred_by_code=code), contact("1")],
                   {"1": "ready"})
    # the page loaded the advocate's counters before the friend signed up: they went stale
    assert out["1"]["referrals_made"] == "1"
    assert out["1"]["referral_status"] == "joined"
    assert out["2"] == {}  # the friend is never enrolled in marketing workflows


def test_a_page_of_known_contacts_costs_a_few_queries_not_a_few_per_contact(
        program_harness: ProgramHarness) -> None:
    contacts = [contact(str(i)) for i in range(1, 61)]
    tiers = {c.id: "ready" for c in contacts}
    first = run_page(program_harness, contacts, tiers)
    assert all(out["referral_status"] == "invited" for out in first.values())
    codes = {out["referral_code"] for out in first.values()}
    assert len(codes) == 60  # the page's code pool never hands one out twice
    with counting_queries(program_harness) as statements:
        again = run_page(program_harness, contacts, tiers, now=NOW + timedelta(hours=1))
    assert again == first
    program_statements = [s for s in statements if "contact_state" not in s.lower()]
    assert len(program_statements) <= 8, program_statements


def test_the_page_and_the_single_contact_path_agree(program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    single = program_harness.process("1", tier="ready")
    paged = run_page(program_harness, [contact("1")], {"1": "ready"})
    assert paged["1"] == single
