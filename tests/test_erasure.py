"""Privacy deletion: after the erasure, no table holds the contact's email or name."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fixtures_program import NOW, ProgramHarness
from sqlalchemy import MetaData, func, select

from connector.db.models import (
    AuditLog,
    ContactState,
    ErasureLog,
    InboxEvent,
    Referral,
    ReferralRejection,
    RewardLedger,
)
from connector.db.session import transaction
from connector.privacy.erasure import was_erased
from connector.program import hooks
from connector.program.dates import hubspot_time

FRIEND_EMAIL = "Zelda.Quixotefield@Example.org"
FIRST, LAST = "Zeldawyn", "Quixotefield"


def seed_whole_journey(harness: ProgramHarness) -> str:
    """Advocate 1 invited, friend 2 referred (after a bogus code: its own email), converted,
    rewarded, with webhook events and audit rows about the friend."""
    harness.use_api_mode()  # enrollments carry the email through the outbox
    code = harness.invite("1")
    friend = {"email": FRIEND_EMAIL, "firstname": FIRST, "lastname": LAST}
    harness.process("2", referred_by_code=FRIEND_EMAIL, **friend)  # typed into the code field
    harness.process("2", referred_by_code=code.lower(), **friend)
    harness.process("2", referred_by_code=code, lifecyclestage="customer",
                    hs_lifecyclestage_customer_date=hubspot_time(NOW),
                    now=NOW + timedelta(hours=1), **friend)
    with transaction(harness.runtime.sessions) as session:
        session.add_all([
            InboxEvent(event_key="hs:1:104:9:1:2:", event_id="9", object_id="2",
                       subscription_type="contact.propertyChange",
                       payload={"objectId": 2, "propertyName": "email"}),
            # an event stored by a careless older version, with the value in it
            InboxEvent(event_key="wf:invite:2:abc", source="workflow", object_id="2",
                       payload={"properties": {"email": FRIEND_EMAIL, "firstname": FIRST}}),
            AuditLog(contact_id="2", action="write", reason="sync:full",
                     changes={"referral_status": [None, "joined"],
                              "advocate_note": [None, f"{FIRST} {LAST}"]}),
            AuditLog(contact_id="1", action="write", reason="outbox",
                     changes={"referrals_made": ["0", "1"]}),
        ])
    return code


def scan(harness: ProgramHarness, needles: list[str]) -> list[str]:
    """Every (table, row) whose stringified values contain one of the needles."""
    metadata = MetaData()
    metadata.reflect(harness.runtime.engine)
    hits = []
    lowered = [n.lower() for n in needles]
    with harness.runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                text = " ".join(str(v) for v in row).lower()
                hits.extend(f"{table.name}: {row}" for n in lowered if n in text)
    return hits


def erase(harness: ProgramHarness, contact_id: str) -> None:
    with transaction(harness.runtime.sessions) as session:
        hooks.on_contact_removed(session, harness.runtime, contact_id,
                                 "contact.privacyDeletion", None, NOW + timedelta(days=2))


def count(harness: ProgramHarness, model: object, *where: object) -> int:
    with harness.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)  # type: ignore
                                  .where(*where)) or 0)


def test_erasure_leaves_no_email_or_name_in_any_table(program_harness: ProgramHarness) -> None:
    seed_whole_journey(program_harness)
    needles = [FRIEND_EMAIL, FIRST, LAST]
    assert scan(program_harness, needles), "the seed must put the friend's data in the database"
    ledger_before = sorted(r.amount for r in program_harness.ledger())
    erase(program_harness, "2")
    assert scan(program_harness, needles) == []
    # accounting keeps the amounts, under a pseudonym
    assert sorted(r.amount for r in program_harness.ledger()) == ledger_before
    assert count(program_harness, RewardLedger, RewardLedger.contact_id == "2") == 0
    for column in (ContactState.contact_id, Referral.referred_contact_id,
                   ReferralRejection.referred_contact_id, InboxEvent.object_id,
                   AuditLog.contact_id):
        assert count(program_harness, column.class_, column == "2") == 0, column
    [referral] = program_harness.referrals()
    assert referral.advocate_contact_id == "1" and referral.status == "converted"


def test_erasure_is_recorded_without_the_contact_id(program_harness: ProgramHarness) -> None:
    seed_whole_journey(program_harness)
    erase(program_harness, "2")
    [log] = program_harness.rows(ErasureLog)
    assert log.kind == "privacy_deletion" and "2" not in (log.contact_hash, log.salt)
    assert log.counts["referral"] == 1 and log.counts["audit_log"] == 1
    with program_harness.runtime.sessions() as session:
        assert was_erased(session, "2") and not was_erased(session, "1")


def test_erasing_an_advocate_keeps_its_friends_rewards_and_counts(
        program_harness: ProgramHarness) -> None:
    seed_whole_journey(program_harness)
    advocate_email = program_harness.state("1").email
    assert advocate_email
    total = sum((r.amount for r in program_harness.ledger()), Decimal(0))
    erase(program_harness, "1")
    assert scan(program_harness, [advocate_email]) == []
    assert sum((r.amount for r in program_harness.ledger()), Decimal(0)) == total
    [referral] = program_harness.referrals()
    assert referral.advocate_contact_id.startswith("erased-")
    # the friend's audit rows are not the advocate's: untouched
    assert [a.changes for a in program_harness.rows(AuditLog, AuditLog.contact_id == "2")]


def test_erasing_twice_changes_nothing_more(program_harness: ProgramHarness) -> None:
    seed_whole_journey(program_harness)
    erase(program_harness, "2")
    ledger = [(r.id, r.contact_id, r.status) for r in program_harness.ledger()]
    erase(program_harness, "2")
    assert [(r.id, r.contact_id, r.status) for r in program_harness.ledger()] == ledger


def test_erasing_a_friend_drops_the_notes_about_it_not_sent_yet(
        program_harness: ProgramHarness) -> None:
    code = program_harness.invite("1")
    program_harness.process("2", referred_by_code=code)
    waiting = program_harness.outbox(kinds=("note", "link"))
    assert sorted(o.idempotency_key.split(":")[0] for o in waiting) == ["link", "note"]
    erase(program_harness, "2")
    after = program_harness.outbox(kinds=("note", "link"))
    assert {o.status for o in after} == {"dropped"}
    assert all(o.payload == {"erased": True} for o in after)
