"""Contacts: basic, batch, search, GDPR delete and merge (HubSpot's CRM objects API v3)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from connector.sandbox.api_common import (
    batch_answer,
    batch_read_answer,
    json_body,
    names_of,
    optional_text,
    properties_of,
    property_names,
    whole_number_arg,
)
from connector.sandbox.errors import HubSpotError, batch_error, not_found, validation
from connector.sandbox.portal import ContactVersion
from connector.sandbox.search import run_search
from connector.sandbox.state import state
from connector.sandbox.values import now_ms

bp = Blueprint("sandbox_contacts", __name__, url_prefix="/crm/v3/objects/contacts")

API = "INTEGRATION"  # changeSource of writes made by an app through the API
MAX_BATCH = 100  # batch read/create/update/archive take at most 100 inputs


def _lookup(id_value: str, id_property: str | None) -> ContactVersion | None:
    portal = state().portal
    if id_property and id_property != "hs_object_id":
        return portal.find_by(id_property, id_value)
    return portal.get_contact(id_value)


def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation("`inputs` must be a list")
    if len(inputs) > MAX_BATCH:
        raise validation(f"Too many inputs: {len(inputs)}; a batch takes at most {MAX_BATCH}",
                         context={"maxInputs": [str(MAX_BATCH)]})
    for index, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise validation(f"Invalid input JSON: inputs[{index}] must be an object")
        optional_text(item, "idProperty")
    return inputs


@bp.get("")
def list_contacts() -> Any:
    """A page of contacts in id order; `after` is the last id seen."""
    limit = min(max(whole_number_arg("limit", 10), 1), 100)
    after = whole_number_arg("after", 0)
    archived = request.args.get("archived", "false").lower() == "true"
    portal = state().portal
    with portal.lock:
        chosen = [c for c in portal.contacts.values() if c.archived == archived and c.id > after]
    chosen.sort(key=lambda c: c.id)
    page = chosen[:limit]
    answer: dict[str, Any] = {"results": [c.to_json(property_names()) for c in page]}
    if len(chosen) > limit:
        answer["paging"] = {"next": {"after": str(page[-1].id)}}
    return answer


@bp.get("/<contact_id>")
def get_contact(contact_id: str) -> Any:
    """One contact by id or by `idProperty` (e.g. email); 404 when unknown."""
    archived = request.args.get("archived", "false").lower() == "true"
    id_property = request.args.get("idProperty")
    if archived and not id_property:
        found = state().portal.get_contact(contact_id, archived=True)
    else:
        found = _lookup(contact_id, id_property)
    if found is None:
        raise not_found()
    return found.to_json(property_names())


@bp.post("")
def create_contact() -> Any:
    """Create one contact: 201, or 409 when the email exists."""
    body = json_body()
    created = state().portal.create_contact(properties_of(body), source=API)
    state().stats.add_writes(1)
    return created.to_json(list(created.properties)), 201


@bp.patch("/<contact_id>")
def update_contact(contact_id: str) -> Any:
    """Update one contact's properties."""
    body = json_body()
    values = properties_of(body)
    portal = state().portal
    with portal.lock:
        found = _lookup(contact_id, request.args.get("idProperty"))  # a query string: text
        if found is None:
            raise not_found()
        updated = portal.update_contact(found.id, values, source=API)
    state().stats.add_writes(1)
    return updated.to_json(list(values))


@bp.delete("/<contact_id>")
def archive_contact(contact_id: str) -> Any:
    """Archive one contact: 204 (also for an unknown id, as HubSpot does)."""
    try:
        state().portal.archive_contact(contact_id, source=API)
    except HubSpotError as exc:
        if exc.status != 404:
            raise
    return Response(status=204)


@bp.post("/batch/read")
def batch_read() -> Any:
    """Read up to 100 contacts; unknown ids come back as a 207 error."""
    started = now_ms()
    body = json_body()
    inputs = _inputs(body)
    names = names_of(body)
    id_property = optional_text(body, "idProperty")
    return batch_read_answer((str(item.get("id", "")) for item in inputs),
                             lambda key: _lookup(key, id_property), names, "CONTACT", started)


@bp.post("/batch/create")
def batch_create() -> Any:
    """Create up to 100 contacts; a record that fails (e.g. duplicate email) is a 207 error."""
    started = now_ms()
    inputs = _inputs(json_body())
    portal = state().portal
    results, errors = [], []
    with portal.lock:
        for index, item in enumerate(inputs):
            portal.validate(properties_of(item, f"inputs[{index}].properties"))
        for item in inputs:
            try:
                created = portal.create_contact(properties_of(item), source=API)
            except HubSpotError as exc:
                errors.append(batch_error(exc.category, exc.message, {}))
                continue
            results.append(created.to_json(list(created.properties)))
    state().stats.add_writes(len(results))
    return batch_answer(results, errors, started, 201)


@bp.post("/batch/update")
def batch_update() -> Any:
    """Update up to 100 contacts; unknown ids and unique conflicts are 207 errors.

    Unknown properties and invalid values fail the whole batch with 400, duplicate ids too
    ("Duplicate IDs found in batch input").
    """
    started = now_ms()
    inputs = _inputs(json_body())
    ids = [str(item.get("id", "")) for item in inputs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise validation(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")
    portal = state().portal
    results, errors, missing = [], [], []
    with portal.lock:
        for index, item in enumerate(inputs):
            portal.validate(properties_of(item, f"inputs[{index}].properties"))
        for item in inputs:
            values = properties_of(item)
            found = _lookup(str(item.get("id", "")), item.get("idProperty"))
            if found is None:
                missing.append(str(item.get("id", "")))
                continue
            try:
                updated = portal.update_contact(found.id, values, source=API)
            except HubSpotError as exc:
                errors.append(batch_error(exc.category, exc.message, {"ids": [str(found.id)]}))
                continue
            results.append(updated.to_json(list(values)))
    if missing:
        errors.append(batch_error("OBJECT_NOT_FOUND", "Could not update some CONTACT objects, "
                                  "they may be deleted or not exist.", {"ids": missing}))
    state().stats.add_writes(len(results))
    return batch_answer(results, errors, started, 200)


@bp.post("/batch/archive")
def batch_archive() -> Any:
    """Archive up to 100 contacts: 204."""
    for item in _inputs(json_body()):
        try:
            state().portal.archive_contact(str(item.get("id", "")), source=API)
        except HubSpotError as exc:
            if exc.status != 404:
                raise
    return Response(status=204)


@bp.post("/search")
def search() -> Any:
    """Search contacts as the (lagging) search index sees them."""
    current = state()
    portal = current.portal
    with portal.lock:
        definitions = dict(portal.properties)
    return run_search(json_body(), portal, definitions, current.search_cache)


@bp.post("/gdpr-delete")
def gdpr_delete() -> Any:
    """Permanently delete a contact by id or email: 204, or 404."""
    body = json_body()
    found = _lookup(str(body.get("objectId", "")), optional_text(body, "idProperty"))
    if found is None:
        raise not_found()
    state().portal.gdpr_delete(found.id, source=API)
    return Response(status=204)


@bp.post("/merge")
def merge() -> Any:
    """Merge `objectIdToMerge` into `primaryObjectId`; answers the merged contact."""
    body = json_body()
    merged = state().portal.merge(str(body.get("primaryObjectId", "")),
                                  str(body.get("objectIdToMerge", "")), source=API)
    return merged.to_json(None)
