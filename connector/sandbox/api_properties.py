"""Contact properties and property groups (HubSpot's CRM properties API v3)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from connector.sandbox.api_common import json_body
from connector.sandbox.errors import HubSpotError, not_found, validation
from connector.sandbox.state import state

bp = Blueprint("sandbox_properties", __name__, url_prefix="/crm/v3/properties/contacts")


@bp.get("")
def list_properties() -> Any:
    """Every contact property."""
    portal = state().portal
    with portal.lock:
        return {"results": list(portal.properties.values())}


@bp.get("/<name>")
def get_property(name: str) -> Any:
    """One property, or 404."""
    found = state().portal.properties.get(name)
    if found is None:
        raise not_found(f"Unable to find property {name}")
    return found


@bp.post("")
def create_property() -> Any:
    """Create a property: 201, 409 when it exists, 400 when the definition is invalid."""
    return state().portal.create_property(json_body()), 201


@bp.patch("/<name>")
def update_property(name: str) -> Any:
    """Change a property's label, description, group or options."""
    return state().portal.update_property(name, json_body())


@bp.get("/groups")
def list_groups() -> Any:
    """Every contact property group."""
    portal = state().portal
    with portal.lock:
        return {"results": list(portal.groups.values())}


@bp.get("/groups/<name>")
def get_group(name: str) -> Any:
    """One group, or 404."""
    found = state().portal.groups.get(name)
    if found is None:
        raise not_found(f"Unable to find property group {name}")
    return found


@bp.post("/groups")
def create_group() -> Any:
    """Create a group: 201, or 409 when the name exists."""
    body = json_body()
    portal = state().portal
    with portal.lock:
        name = str(body.get("name", ""))
        if not name or not body.get("label"):
            raise validation("A property group needs `name` and `label`")
        if name in portal.groups:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                               f"A property group named '{name}' already exists.")
        group = {"name": name, "label": body["label"],
                 "displayOrder": int(body.get("displayOrder", -1)), "archived": False}
        portal.groups[name] = group
        return group, 201


@bp.patch("/groups/<name>")
def update_group(name: str) -> Any:
    """Change a group's label or display order."""
    body = json_body()
    portal = state().portal
    with portal.lock:
        group = portal.groups.get(name)
        if group is None:
            raise not_found(f"Unable to find property group {name}")
        for key in ("label", "displayOrder"):
            if key in body:
                group[key] = body[key]
        return group
