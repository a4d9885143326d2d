"""Deals (CRM objects API v3) and deal-contact associations (associations API v4).

Shapes follow https://developers.hubspot.com/docs/api/crm/deals and
https://developers.hubspot.com/docs/api/crm/associations/v4 (batch read: `results` of
`{"from": {"id"}, "to": [{"toObjectId", "associationTypes"}]}`; `paging` only when more).
Control endpoints under /_sandbox/deals act as a user in HubSpot's UI would.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from connector.sandbox.api_common import (
    batch_answer,
    batch_read_answer,
    json_body,
    property_names,
)
from connector.sandbox.deals import CONTACT_TO_DEAL, DEAL_TO_CONTACT, Deal, DealStore
from connector.sandbox.errors import batch_error, not_found, validation
from connector.sandbox.state import state
from connector.sandbox.values import iso_ms, now_ms

bp = Blueprint("sandbox_deals", __name__)
control = Blueprint("sandbox_deals_control", __name__, url_prefix="/_sandbox")

API = "INTEGRATION"
UI = "CRM_UI"
MAX_BATCH = 100  # batch read of deals takes at most 100 inputs, as for contacts
# The v4 page of associations per object; HubSpot pages long lists with `after` (the size is
# not stated on the reference page, 500 is the sandbox's choice)
ASSOCIATION_PAGE = 500
MAX_ASSOCIATION_INPUTS = 1000  # the sandbox's choice; the reference page states no limit


def _store() -> DealStore:
    return state().portal.deals


def _create(body: dict[str, Any], source: str) -> Deal:
    """A deal with the associations the create body names (v3 `associations`)."""
    store = _store()
    with store.portal.lock:
        targets = []
        for link in body.get("associations") or []:
            to = str((link.get("to") or {}).get("id", ""))
            if store.portal.get_contact(to) is None:
                raise validation(f"Could not create associations: contact {to} does not exist")
            targets.append(to)
        deal = store.create(body.get("properties") or {}, source=source)
        for to in targets:
            store.associate(deal.id, to)
        return deal


@bp.post("/crm/v3/objects/deals")
def create_deal() -> Any:
    """Create one deal (and its associations): 201."""
    deal = _create(json_body(), API)
    state().stats.add_writes(1)
    return deal.to_json(list(deal.properties)), 201


@bp.get("/crm/v3/objects/deals/<deal_id>")
def get_deal(deal_id: str) -> Any:
    """One deal by id; 404 when unknown."""
    found = _store().get(deal_id)
    if found is None:
        raise not_found()
    return found.to_json(property_names())


@bp.patch("/crm/v3/objects/deals/<deal_id>")
def update_deal(deal_id: str) -> Any:
    """Update one deal's properties."""
    values = json_body().get("properties") or {}
    updated = _store().update(deal_id, values, source=API)
    state().stats.add_writes(1)
    return updated.to_json(list(values))


@bp.post("/crm/v3/objects/deals/batch/read")
def batch_read_deals() -> Any:
    """Read up to 100 deals; unknown ids come back as a 207 error."""
    started = now_ms()
    body = json_body()
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation("`inputs` must be a list")
    if len(inputs) > MAX_BATCH:
        raise validation(f"Too many inputs: {len(inputs)}; a batch takes at most {MAX_BATCH}")
    names = body.get("properties") or None
    return batch_read_answer((str(item.get("id", "")) for item in inputs), _store().get, names,
                             "DEAL", started)


@bp.put("/crm/v4/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>")
def associate_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Any:
    """Create the default association between a deal and a contact (either direction)."""
    deal_id, contact_id = _pair(from_type, from_id, to_type, to_id)
    _store().associate(deal_id, contact_id)
    type_id = DEAL_TO_CONTACT if from_type == "deals" else CONTACT_TO_DEAL
    started = now_ms()
    return {"status": "COMPLETE", "startedAt": iso_ms(started), "completedAt": iso_ms(now_ms()),
            "results": [{"from": {"id": from_id}, "to": {"id": to_id},
                         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                             "associationTypeId": type_id}}]}


@bp.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
def batch_read_associations(from_type: str, to_type: str) -> Any:
    """Associated ids per input, paged per object; objects with none are 207 errors."""
    started = now_ms()
    _pair(from_type, "0", to_type, "0")
    inputs = json_body().get("inputs")
    if not isinstance(inputs, list):
        raise validation("`inputs` must be a list")
    if len(inputs) > MAX_ASSOCIATION_INPUTS:
        raise validation(f"Too many inputs: {len(inputs)}")
    store = _store()
    type_id = DEAL_TO_CONTACT if from_type == "deals" else CONTACT_TO_DEAL
    results, empty = [], []
    for item in inputs:
        key = str(item.get("id", ""))
        linked = _linked(store, from_type, key)
        after = int(item.get("after") or 0)
        remaining = [i for i in linked if i > after]
        if not remaining:
            empty.append(key)
            continue
        page = remaining[:ASSOCIATION_PAGE]
        result: dict[str, Any] = {"from": {"id": key}, "to": [
            {"toObjectId": i, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
            for i in page]}
        if len(remaining) > len(page):
            result["paging"] = {"next": {"after": str(page[-1])}}
        results.append(result)
    # The docs show `errors` on this answer without saying when; HubSpot answers objects with
    # no associations (or unknown ids) as errors in a 207, which the sandbox copies
    errors = [batch_error("OBJECT_NOT_FOUND", f"No {to_type} is associated with {from_type} "
                          f"{key}.", {"fromObjectId": [key]}) for key in empty]
    return batch_answer(results, errors, started)


def _linked(store: DealStore, from_type: str, key: str) -> list[int]:
    if not (key.isascii() and key.isdigit()):
        return []
    if from_type == "deals":
        return store.contact_ids(int(key))
    contact = store.portal.get_contact(key)
    return store.deal_ids(contact.id) if contact is not None else []


def _pair(from_type: str, from_id: str, to_type: str, to_id: str) -> tuple[str, str]:
    """(deal id, contact id) of a deal-contact association path; 400 for other types."""
    if (from_type, to_type) == ("deals", "contacts"):
        return from_id, to_id
    if (from_type, to_type) == ("contacts", "deals"):
        return to_id, from_id
    raise validation(f"The sandbox associates deals and contacts only, not {from_type} to "
                     f"{to_type}")


@control.post("/deals")
def add_deals() -> Any:
    """Create deals associated with contacts as a user would: {"deals": [{"properties",
    "contacts": [ids]}]} -> {"ids": [...]} (creation webhooks)."""
    rows = json_body().get("deals") or []
    ids = []
    for row in rows:
        links = [{"to": {"id": str(c)}} for c in row.get("contacts") or []]
        ids.append(str(_create({"properties": row.get("properties") or {},
                                "associations": links}, UI).id))
    return {"ids": ids}, 201


@control.post("/deals/<deal_id>/properties")
def edit_deal(deal_id: str) -> Any:
    """Change a deal as a user in HubSpot's UI would (e.g. drag it to closed won)."""
    updated = _store().update(deal_id, json_body(), source=UI)
    return updated.to_json(list(updated.properties))


@control.post("/deals/<deal_id>/contacts/<contact_id>")
def associate_as_user(deal_id: str, contact_id: str) -> Any:
    """Associate a contact with a deal from the deal record, as a user would."""
    _store().associate(deal_id, contact_id)
    return {"deal": deal_id, "contact": contact_id}
