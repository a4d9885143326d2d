"""A referral on both contact records in HubSpot: a Note for each attributed referral,
conversion and granted reward, associated with the advocate and the friend (private apps cannot
create timeline events), and the paired "Referred by" / "Referred" association label between
them. Queued in the outbox in the transaction of the decision, once each by key; worded when
sent, with the names HubSpot shows for the two contacts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.db.models import Referral, RewardLedger
from connector.program.counters import number_text
from connector.program.dates import aware, hubspot_time, parse_time
from connector.queue.outbox import enqueue

MARK = "advocate-connector"  # ends every note: how a retried send finds a note it made


def queue_referral(session: Session, referral: Referral, now: datetime) -> None:
    """A friend was attributed: its note, and the label linking the two records."""
    friend, advocate = referral.referred_contact_id, referral.advocate_contact_id
    _note(session, f"note:referral:{referral.id}", referral, now, {"event": "referral",
          "review": referral.review_reason if referral.status == "review" else None})
    enqueue(session, key=f"link:referral:{referral.id}", kind="link", contact_id=friend,
            payload={"friend": friend, "advocate": advocate})


def queue_conversion(session: Session, referral: Referral, now: datetime) -> None:
    """The friend converted (a lifecycle stage or a won deal)."""
    at = aware(referral.converted_at) or now
    _note(session, f"note:conversion:{referral.id}", referral, at,
          {"event": "conversion", "deal": referral.conversion_key})


def queue_reward(session: Session, ledger: RewardLedger, hold_days: int) -> None:
    """A reward was granted (held or payable): what, to whom, and until when it is held."""
    referral = session.get(Referral, ledger.referral_id)
    if referral is None or ledger.status not in ("held", "payable", "granted"):
        return
    created = aware(ledger.created_at) or aware(ledger.decided_at)
    at = aware(ledger.decided_at) or created
    assert at is not None
    held_until = (created + timedelta(days=hold_days)
                  if ledger.status == "held" and created is not None else None)
    _note(session, f"note:reward:{ledger.id}", referral, at, {
        "event": "reward", "role": ledger.role, "label": ledger.label,
        "amount": number_text(ledger.amount), "unit": ledger.unit,
        "held_until": hubspot_time(held_until) if held_until else None})


def queue_payment(session: Session, ledger: RewardLedger) -> None:
    """A reward reached its contact: paid, when, through whom, with the reference."""
    referral = session.get(Referral, ledger.referral_id)
    at = aware(ledger.paid_at)
    if referral is None or ledger.status != "paid" or at is None:
        return
    _note(session, f"note:paid:{ledger.id}", referral, at, {
        "event": "paid", "role": ledger.role, "label": ledger.label,
        "amount": number_text(ledger.amount), "unit": ledger.unit,
        "provider": ledger.payout_provider or "manual", "reference": ledger.payout_reference})


def _note(session: Session, key: str, referral: Referral, at: datetime,
          facts: dict[str, Any]) -> None:
    enqueue(session, key=key, kind="note", contact_id=referral.advocate_contact_id, payload={
        "key": key, "advocate": referral.advocate_contact_id,
        "friend": referral.referred_contact_id, "code": referral.code, "at": hubspot_time(at),
        **facts})


def note_text(payload: dict[str, Any], names: dict[str, str]) -> str:
    """The note's words (HTML, as HubSpot stores a note's body), ending with its mark."""
    key = str(payload.get("key") or "")
    advocate = names.get(payload["advocate"]) or f"contact {payload['advocate']}"
    friend = names.get(payload["friend"]) or f"contact {payload['friend']}"
    code, event = payload.get("code") or "", payload.get("event")
    if event == "referral":
        text = f"{advocate} referred {friend} with the referral code {code}."
        if payload.get("review"):
            text += f" In fraud review before any reward: {payload['review']}."
    elif event == "conversion":
        day = (parse_time(payload.get("at")) or datetime.min).date().isoformat()
        deal = f" (deal {payload['deal']})" if payload.get("deal") else ""
        text = (f"{friend}, referred by {advocate} with the code {code}, converted on "
                f"{day}{deal}.")
    elif event == "paid":
        who = advocate if payload.get("role") == "advocate" else friend
        day = (parse_time(payload.get("at")) or datetime.min).date().isoformat()
        how = ("through Tremendous" if payload.get("provider") == "tremendous"
               else "by hand")
        text = (f"Referral reward paid to {who} on {day} {how}: {payload.get('label')} "
                f"({payload.get('amount')} {payload.get('unit')}), reference "
                f"{payload.get('reference') or 'none'}.")
    else:
        who = advocate if payload.get("role") == "advocate" else friend
        text = (f"Referral reward for {who}: {payload.get('label')} ({payload.get('amount')} "
                f"{payload.get('unit')}), for {friend}'s conversion (referred by {advocate}, "
                f"code {code}).")
        held = parse_time(payload.get("held_until"))
        text += (f" Held until {held.date().isoformat()}: cancelled if the conversion is "
                 "undone before then." if held else " Payable now.")
    return f"<p>{_html(text)}</p><p>[{MARK} {_html(key)}]</p>"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def marked(body: str, key: str) -> bool:
    """Whether a note body is the note of this outbox key."""
    return f"[{MARK} {_html(key)}]" in body
