"""Notes on contacts and the contact-to-contact association label of referrals.

Notes: `POST /crm/v3/objects/notes/batch/create` (100 per call; `hs_timestamp` and
`hs_note_body`, associated to contacts with HubSpot's note-to-contact type 202), read back
through `GET /crm/v4/objects/contacts/{id}/associations/notes` and
`POST /crm/v3/objects/notes/batch/read`. Labels: `GET|POST
/crm/v4/associations/contacts/contacts/labels` (a label with `inverseLabel` is a pair),
links: `POST /crm/v4/associations/contacts/contacts/batch/create` (idempotent: the same link
again changes nothing). developers.hubspot.com/docs/api/crm/notes and
.../docs/api/crm/associations/v4. Scopes: contacts read and write (notes ride on them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.hubspot.gateway import BATCH_SIZE, HubSpotGateway
from connector.hubspot.limiter import BURST

NOTE_TO_CONTACT = 202  # HUBSPOT_DEFINED
LABEL, INVERSE_LABEL, LABEL_NAME = "Referred by", "Referred", "advocate_referred_by"
NAME_PROPERTIES = ("firstname", "lastname", "email")


class NotesRefused(RuntimeError):
    """HubSpot answered a batch create with errors for some of its notes."""


@dataclass(frozen=True)
class NewNote:
    body: str
    timestamp: str
    contact_ids: tuple[str, ...]


def display_names(gateway: HubSpotGateway, ids: Sequence[str]) -> dict[str, str]:
    """Each contact HubSpot still has, named as its record is: first and last name, else the
    email, else its id; contacts HubSpot no longer has are absent."""
    names = {}
    for contact in gateway.read_contacts(ids, NAME_PROPERTIES):
        props = contact.properties
        full = " ".join(p for p in ((props.get("firstname") or "").strip(),
                                    (props.get("lastname") or "").strip()) if p)
        names[contact.id] = full or (props.get("email") or "").strip() or f"contact {contact.id}"
    return names


def create_notes(gateway: HubSpotGateway, notes: Sequence[NewNote]) -> None:
    """Create the notes, 100 per call; a failure raises (the caller retries the batch, after
    looking for notes the failed call may have made)."""
    for start in range(0, len(notes), BATCH_SIZE):
        inputs = [{"properties": {"hs_timestamp": n.timestamp, "hs_note_body": n.body},
                   "associations": [{"to": {"id": cid}, "types": [
                       {"associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": NOTE_TO_CONTACT}]} for cid in n.contact_ids]}
                  for n in notes[start:start + BATCH_SIZE]]
        answer = _json(gateway.call(
            "POST /crm/v3/objects/notes/batch/create", BURST,
            lambda inputs=inputs: gateway.apis.request(  # type: ignore[misc]
                "POST", "/crm/v3/objects/notes/batch/create", body={"inputs": inputs}),
            retry_server_errors=False))  # a 5xx may have created them: never blindly again
        if answer.get("errors"):  # a 207: some were refused, some perhaps made
            first = answer["errors"][0]
            raise NotesRefused(f"{len(answer['errors'])} of {len(inputs)} notes refused: "
                               f"{first.get('category')}: {first.get('message')}")


def note_bodies(gateway: HubSpotGateway, contact_id: str) -> list[str]:
    """The bodies of a contact's notes (for a retried send to find what it already made)."""
    ids: list[str] = []
    after: str | None = None
    while True:
        answer = _json(gateway.call(
            "GET /crm/v4/objects/contacts/{id}/associations/notes", BURST,
            lambda after=after: gateway.apis.request(  # type: ignore[misc]
                "GET", f"/crm/v4/objects/contacts/{contact_id}/associations/notes",
                qs={"limit": 500, **({"after": after} if after else {})})))
        ids.extend(str(r.get("toObjectId")) for r in answer.get("results") or [])
        after = ((answer.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    bodies: list[str] = []
    for start in range(0, len(ids), BATCH_SIZE):
        inputs = [{"id": i} for i in ids[start:start + BATCH_SIZE]]
        answer = _json(gateway.call(
            "POST /crm/v3/objects/notes/batch/read", BURST,
            lambda inputs=inputs: gateway.apis.request(  # type: ignore[misc]
                "POST", "/crm/v3/objects/notes/batch/read",
                body={"inputs": inputs, "properties": ["hs_note_body"]})))
        bodies.extend(str((r.get("properties") or {}).get("hs_note_body") or "")
                      for r in answer.get("results") or [])
    return bodies


def referral_label(gateway: HubSpotGateway) -> int | None:
    """The type id of the "Referred by" label (friend to advocate), None when the portal has
    none (not installed, or its subscription has no custom labels)."""
    answer = _json(gateway.call(
        "GET /crm/v4/associations/contacts/contacts/labels", BURST,
        lambda: gateway.apis.request("GET", "/crm/v4/associations/contacts/contacts/labels")))
    for label in answer.get("results") or []:
        if label.get("category") == "USER_DEFINED" and label.get("label") == LABEL:
            return int(label["typeId"])
    return None


def create_referral_label(gateway: HubSpotGateway) -> None:
    """Create the paired label "Referred by" / "Referred" between contacts."""
    gateway.call(
        "POST /crm/v4/associations/contacts/contacts/labels", BURST,
        lambda: gateway.apis.request(
            "POST", "/crm/v4/associations/contacts/contacts/labels",
            body={"label": LABEL, "inverseLabel": INVERSE_LABEL, "name": LABEL_NAME}),
        retry_server_errors=False)


def link_referrals(gateway: HubSpotGateway, pairs: Sequence[tuple[str, str]],
                   type_id: int) -> None:
    """Label each (friend, advocate) pair: the advocate shows on the friend's record as
    "Referred by", the friend on the advocate's as "Referred"."""
    for start in range(0, len(pairs), BATCH_SIZE):
        inputs = [{"from": {"id": friend}, "to": {"id": advocate}, "types": [
            {"associationCategory": "USER_DEFINED", "associationTypeId": type_id}]}
            for friend, advocate in pairs[start:start + BATCH_SIZE]]
        gateway.call(
            "POST /crm/v4/associations/contacts/contacts/batch/create", BURST,
            lambda inputs=inputs: gateway.apis.request(  # type: ignore[misc]
                "POST", "/crm/v4/associations/contacts/contacts/batch/create",
                body={"inputs": inputs}))


def _json(response: Any) -> dict[str, Any]:
    body = response.json() if response is not None and response.content else {}
    return body if isinstance(body, dict) else {}
