"""Notes on contacts and contact-to-contact association labels, as a referral shows in the CRM.

Shapes from developers.hubspot.com: notes (`/crm/v3/objects/notes`, batch create and read,
`hs_timestamp` required, `hs_note_body`; `associations` with the HUBSPOT_DEFINED note-to-contact
type 202, contact-to-note 201), association labels (`/crm/v4/associations/{from}/{to}/labels`:
a label with `inverseLabel` is a pair, answered as two USER_DEFINED type ids), associations
(`/crm/v4/associations/{from}/{to}/batch/create`, and the v4 read
`GET /crm/v4/objects/{type}/{id}/associations/{toType}`). Where the documentation is silent the
sandbox says so: the error a portal without custom labels answers is not documented (the
sandbox's `association_labels: false` answers 403 MISSING_SCOPES-like FEATURE_NOT_AVAILABLE).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app

from connector.sandbox.api_common import batch_answer, json_body
from connector.sandbox.errors import HubSpotError, not_found, validation
from connector.sandbox.state import state
from connector.sandbox.values import iso_ms, now_ms

bp = Blueprint("sandbox_notes", __name__)
EXTENSION = "sandbox.notes"
NOTE_TO_CONTACT, CONTACT_TO_NOTE = 202, 201
MAX_BATCH = 100
CONTACT_TYPES = ("contact", "contacts", "0-1")
NOTE_TYPES = ("note", "notes", "0-46")


@dataclass
class NotesStore:
    """Notes, their contacts, contact-contact labels and links."""

    labels_allowed: bool = True
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    note_contacts: dict[int, list[int]] = field(default_factory=dict)
    # {type id: {"label", "name", "inverse"}}: USER_DEFINED contact-to-contact labels
    labels: dict[int, dict[str, Any]] = field(default_factory=dict)
    # {(from, to): {type id}}: a labelled link is stored both ways with the paired type ids
    links: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(81_000_000_001))
    _type_ids: Any = field(default_factory=lambda: itertools.count(11))

    def contact_notes(self, contact_id: int) -> list[int]:
        with self.lock:
            return [n for n, ids in self.note_contacts.items() if contact_id in ids]

    def labelled(self, contact_id: int) -> list[tuple[int, set[int]]]:
        with self.lock:
            return [(to, set(types)) for (frm, to), types in self.links.items()
                    if frm == contact_id]


def register(app: Flask, *, labels_allowed: bool = True) -> None:
    """Serve notes, labels and contact associations from `app`."""
    app.extensions[EXTENSION] = NotesStore(labels_allowed=labels_allowed)
    app.register_blueprint(bp)


def store() -> NotesStore:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, NotesStore)
    return found


def _contact(raw: Any) -> int:
    contact = state().portal.get_contact(str(raw))
    if contact is None:
        raise validation(f"Could not create associations: contact {raw} does not exist")
    return int(contact.id)


def _note_json(note: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    props = note["properties"]
    shown = props if names is None else {k: props.get(k) for k in names}
    return {"id": str(note["id"]), "properties": shown, "createdAt": note["createdAt"],
            "updatedAt": note["createdAt"], "archived": False}


@bp.get("/account-info/v3/details")
def account_details() -> Any:
    """The token's account, with the fields the connector reads (the docs list more)."""
    return {"portalId": state().portal.options.portal_id, "accountType": "STANDARD",
            "timeZone": "US/Eastern", "companyCurrency": "USD", "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1"}


@bp.post("/crm/v3/objects/notes/batch/create")
def create_notes() -> Any:
    """Create up to 100 notes with their contact associations: 201."""
    started = now_ms()
    inputs = json_body().get("inputs")
    if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_BATCH:
        raise validation(f"`inputs` must be a list of 1 to {MAX_BATCH} notes")
    notes = store()
    planned = []
    for item in inputs:
        props = {str(k): "" if v is None else str(v)
                 for k, v in (item.get("properties") or {}).items()}
        if not props.get("hs_timestamp"):
            raise validation("Property values were not valid: hs_timestamp is required")
        contacts = []
        for link in item.get("associations") or []:
            types = [t.get("associationTypeId") for t in link.get("types") or []]
            if NOTE_TO_CONTACT not in types:
                raise validation(f"association types {types} do not link a note to a contact")
            contacts.append(_contact((link.get("to") or {}).get("id")))
        planned.append((props, contacts))
    results = []
    with notes.lock:
        for props, contacts in planned:
            note_id = next(notes._ids)
            stamp = iso_ms(now_ms())
            props.update({"hs_object_id": str(note_id), "hs_createdate": stamp})
            notes.notes[note_id] = {"id": note_id, "properties": props, "createdAt": stamp}
            notes.note_contacts[note_id] = contacts
            results.append(_note_json(notes.notes[note_id], None))
    return batch_answer(results, [], started, ok_status=201)


@bp.post("/crm/v3/objects/notes/batch/read")
def read_notes() -> Any:
    """Notes by id with the properties asked for; unknown ids are left out."""
    started = now_ms()
    body = json_body()
    names = [str(n) for n in body.get("properties") or []] or None
    notes = store()
    with notes.lock:
        found = [notes.notes.get(int(i["id"])) for i in body.get("inputs") or []
                 if str(i.get("id", "")).isdigit()]
        results = [_note_json(n, names) for n in found if n is not None]
    return batch_answer(results, [], started)


@bp.get("/crm/v4/objects/<from_type>/<from_id>/associations/<to_type>")
def associations_of(from_type: str, from_id: str, to_type: str) -> Any:
    """A contact's notes or labelled contacts, with their association types."""
    if from_type not in CONTACT_TYPES or not from_id.isdigit():
        raise not_found(f"no {from_type} {from_id}")
    notes = store()
    contact_id = int(from_id)
    if to_type in NOTE_TYPES:
        results = [{"toObjectId": n, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": CONTACT_TO_NOTE, "label": None}]}
            for n in sorted(notes.contact_notes(contact_id))]
    elif to_type in CONTACT_TYPES:
        results = [{"toObjectId": to, "associationTypes": [
            {"category": "USER_DEFINED", "typeId": t, "label": notes.labels[t]["label"]}
            for t in sorted(types)]} for to, types in sorted(notes.labelled(contact_id))]
    else:
        raise validation(f"the sandbox links contacts to notes and contacts, not {to_type}")
    return {"results": results}


def _contacts_pair(from_type: str, to_type: str) -> None:
    if from_type not in CONTACT_TYPES or to_type not in CONTACT_TYPES:
        raise validation("the sandbox keeps labels between contacts only")


@bp.get("/crm/v4/associations/<from_type>/<to_type>/labels")
def labels(from_type: str, to_type: str) -> Any:
    """The contact-to-contact labels: HubSpot's unlabelled default and the USER_DEFINED ones."""
    _contacts_pair(from_type, to_type)
    notes = store()
    with notes.lock:
        found = [{"category": "USER_DEFINED", "typeId": t, "label": spec["label"]}
                 for t, spec in sorted(notes.labels.items())]
    return {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 449, "label": None}, *found]}


@bp.post("/crm/v4/associations/<from_type>/<to_type>/labels")
def create_label(from_type: str, to_type: str) -> Any:
    """A label, paired with its inverse when `inverseLabel` is given."""
    _contacts_pair(from_type, to_type)
    body = json_body()
    notes = store()
    if not notes.labels_allowed:
        raise HubSpotError(403, "FEATURE_NOT_AVAILABLE",
                           "This portal's subscription does not include custom association "
                           "labels (sandbox: association_labels is off).")
    label, name = str(body.get("label") or ""), str(body.get("name") or "")
    if not label or not name:
        raise validation("`label` and `name` are required")
    inverse = body.get("inverseLabel")
    with notes.lock:
        if any(spec["name"] == name for spec in notes.labels.values()):
            raise HubSpotError(409, "CONFLICT", f"A label named {name} already exists")
        first = next(notes._type_ids)
        notes.labels[first] = {"label": label, "name": name, "inverse": first}
        created = [first]
        if inverse:
            second = next(notes._type_ids)
            notes.labels[second] = {"label": str(inverse), "name": f"{name}_inverse",
                                    "inverse": first}
            notes.labels[first]["inverse"] = second
            created.append(second)
        results = [{"category": "USER_DEFINED", "typeId": t, "label": notes.labels[t]["label"]}
                   for t in created]
    return {"results": results}, 200


@bp.post("/crm/v4/associations/<from_type>/<to_type>/batch/create")
def create_links(from_type: str, to_type: str) -> Any:
    """Labelled contact-to-contact links; the paired label goes the other way. Idempotent."""
    _contacts_pair(from_type, to_type)
    started = now_ms()
    inputs = json_body().get("inputs")
    if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_BATCH:
        raise validation(f"`inputs` must be a list of 1 to {MAX_BATCH} associations")
    notes = store()
    planned = []
    for item in inputs:
        frm, to = _contact((item.get("from") or {}).get("id")), _contact(
            (item.get("to") or {}).get("id"))
        types = [int(t.get("associationTypeId", 0)) for t in item.get("types") or []]
        with notes.lock:
            unknown = [t for t in types if t not in notes.labels]
        if unknown or not types:
            raise validation(f"unknown association type ids {unknown or types}")
        planned.append((frm, to, types))
    results = []
    with notes.lock:
        for frm, to, types in planned:
            for type_id in types:
                notes.links.setdefault((frm, to), set()).add(type_id)
                notes.links.setdefault((to, frm), set()).add(notes.labels[type_id]["inverse"])
            results.append({"fromObjectTypeId": "0-1", "fromObjectId": frm,
                            "toObjectTypeId": "0-1", "toObjectId": to,
                            "labels": [notes.labels[t]["label"] for t in types]})
    return batch_answer(results, [], started, ok_status=201)
