"""Invite and remind: code, link, status, enrollment in both modes, cooldown, caps, consent."""

from __future__ import annotations

import re
from datetime import timedelta

from fixtures_program import NOW, ProgramHarness

from connector.program.codes import ALPHABET, new_code, normalise_code

CODE = re.compile(rf"^[{ALPHABET}]{{8}}$")


def test_codes_are_short_unambiguous_and_random() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE.match(c) for c in codes)
    assert not set("0O1IL") & set("".join(codes))
    assert normalise_code("  abcd2345 ") == "ABCD2345"


def test_a_ready_contact_is_invited_with_code_link_status_and_trigger(
        program_harness: ProgramHarness) -> None:
    out = program_harness.process("1", tier="ready")
    code = out["referral_code"]
    assert CODE.match(code)
    # no public URL in this runtime: the link is the landing page with the form's field
    assert out["referral_link"] == (
        f"https://example.com/refer?referred_by_code={code}&utm_source=referral"
        "&utm_medium=advocate&utm_campaign=advocate-referrals")
    assert out["referral_status"] == "invited"
    assert out["referral_invited_at"] == "2025-03-10T12:00:00.000Z"
    assert out["referral_invitation_trigger"] == "2025-03-10T12:00:00.000Z"
    assert out["referrals_made"] == "0"
    state = program_harness.state("1")
    assert (state.referral_code, state.journey_state, state.invitations_sent) == (
        code, "invited", 1)
    assert program_harness.outbox() == []  # property mode: the trigger rides in the write-back


def test_codes_are_unique_across_contacts(program_harness: ProgramHarness) -> None:
    codes = {program_harness.invite(str(i)) for i in range(30)}
    assert len(codes) == 30


def test_a_code_collision_is_retried(program_harness: ProgramHarness, monkeypatch) -> None:
    taken = program_harness.invite("1")
    fresh = iter([taken, taken, "ABCDEFGH"])
    monkeypatch.setattr("connector.program.codes.new_code", lambda: next(fresh))
    assert program_harness.invite("2") == "ABCDEFGH"


def test_api_mode_enrolls_once_through_the_outbox(program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    out = program_harness.process("1", tier="champion")
    assert "referral_invitation_trigger" not in out
    for _ in range(3):
        program_harness.process("1", tier="champion", now=NOW + timedelta(hours=1))
    [item] = program_harness.outbox("1")
    assert item.kind == "enroll"
    assert item.idempotency_key == "enroll:invitation:1:1"
    assert item.payload == {"workflow_id": "1000", "email": "person1@example.com"}


def test_below_the_minimum_tier_nothing_happens(program_harness: ProgramHarness) -> None:
    for tier in ("nurture", "not_ready", "excluded"):
        assert program_harness.process("1", tier=tier) == {}
    program_harness.configure(min_tier="champion")
    assert program_harness.process("2", tier="ready") == {}
    assert program_harness.process("3", tier="champion")["referral_status"] == "invited"


def test_no_consent_or_no_email_no_invitation(program_harness: ProgramHarness) -> None:
    assert program_harness.process("1", tier="ready", hs_email_optout="true") == {}
    assert program_harness.process("2", tier="ready", email=None) == {}
    assert program_harness.state("1").referral_code is None


def test_processing_again_changes_nothing(program_harness: ProgramHarness) -> None:
    first = program_harness.process("1", tier="ready")
    for hours in (1, 2, 3):
        again = program_harness.process("1", tier="ready", now=NOW + timedelta(hours=hours))
        assert again == first
    assert program_harness.state("1").invitations_sent == 1


def test_cooldown_then_a_new_cycle(program_harness: ProgramHarness) -> None:
    program_harness.configure(cooldown_days=30, reminder_count=0)
    code = program_harness.invite("1")
    day29 = program_harness.process("1", tier="ready", now=NOW + timedelta(days=29))
    assert day29["referral_invited_at"] == "2025-03-10T12:00:00.000Z"
    day30 = program_harness.process("1", tier="ready", now=NOW + timedelta(days=30))
    assert day30["referral_invited_at"] == "2025-04-09T12:00:00.000Z"
    assert day30["referral_code"] == code  # a new cycle keeps the code
    assert program_harness.state("1").invitations_sent == 2


def test_yearly_invitation_cap(program_harness: ProgramHarness) -> None:
    program_harness.configure(cooldown_days=30, reminder_count=0, max_invitations_per_year=3)
    for month in range(6):
        program_harness.process("1", tier="ready", now=NOW + timedelta(days=31 * month))
    assert program_harness.state("1").invitations_sent == 3  # months 0, 1, 2; then capped
    program_harness.process("1", tier="ready", now=NOW + timedelta(days=366))
    assert program_harness.state("1").invitations_sent == 4  # the first one left the year


def test_reminders_after_the_delay_at_most_the_count(program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    program_harness.invite("1")
    assert program_harness.process("1", now=NOW + timedelta(days=6)).get(
        "referral_status") == "invited"
    out = program_harness.process("1", now=NOW + timedelta(days=7))
    assert out["referral_status"] == "reminded"
    program_harness.process("1", now=NOW + timedelta(days=13))  # 6 days after the reminder
    program_harness.process("1", now=NOW + timedelta(days=14))
    program_harness.process("1", now=NOW + timedelta(days=60))
    keys = [o.idempotency_key for o in program_harness.outbox("1")]
    assert keys == ["enroll:invitation:1:1", "enroll:reminder:1:1.1", "enroll:reminder:1:1.2"]
    assert program_harness.state("1").reminders_sent == 2


def test_reminder_trigger_in_property_mode(program_harness: ProgramHarness) -> None:
    program_harness.invite("1")
    out = program_harness.process("1", now=NOW + timedelta(days=7))
    assert out["referral_reminder_trigger"] == "2025-03-17T12:00:00.000Z"


def test_excluded_is_never_invited_and_its_pending_reminder_is_dropped(
        program_harness: ProgramHarness) -> None:
    program_harness.use_api_mode()
    program_harness.invite("1")
    program_harness.process("1", now=NOW + timedelta(days=7))  # reminder queued
    out = program_harness.process("1", tier="excluded", now=NOW + timedelta(days=7, hours=1))
    assert out["referral_status"] == "paused"
    statuses = {o.idempotency_key: o.status for o in program_harness.outbox("1")}
    assert statuses == {"enroll:invitation:1:1": "dropped", "enroll:reminder:1:1.1": "dropped"}
    program_harness.process("1", tier="excluded", now=NOW + timedelta(days=30))
    assert program_harness.state("1").reminders_sent == 1  # no reminder while excluded


def test_opting_out_stops_the_journey(program_harness: ProgramHarness) -> None:
    program_harness.invite("1")
    out = program_harness.process("1", tier="ready", hs_email_optout="true",
                                  now=NOW + timedelta(days=8))
    assert out["referral_status"] == "opted_out"
    assert program_harness.state("1").reminders_sent == 0
