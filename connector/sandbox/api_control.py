"""Control endpoints under /_sandbox/ (no auth): stats, enrollments, faults, seeding, edits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from connector.sandbox.errors import validation
from connector.sandbox.state import state

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

UI = "CRM_UI"  # changeSource of an edit made by a user in HubSpot


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise validation("expected a JSON object")
    return body


@bp.get("/stats")
def stats() -> Any:
    """Requests by route, answers by status, contact writes, webhook counters."""
    current = state()
    return {**current.stats.snapshot(), "webhooks": current.webhook_counters(),
            "contacts": len(current.portal.live_contacts())}


@bp.get("/enrollments")
def enrollments() -> Any:
    """Every enrollment made, by the v2 API or by a flow's property trigger."""
    portal = state().portal
    with portal.lock:
        return list(portal.flows.enrollments)


@bp.post("/faults")
def faults() -> Any:
    """Set error_rate (0..1), error_status (500, 502, 503, 504), error_burst (the next N
    requests fail), latency_ms and rate_limit_burst; answers the faults now set."""
    body = _body()
    try:
        now = state().limits.set_faults(body.get("error_rate"), body.get("latency_ms"),
                                        body.get("rate_limit_burst"), body.get("error_status"),
                                        body.get("error_burst"))
    except ValueError as exc:
        raise validation(str(exc)) from None
    return vars(now)


@bp.post("/token")
def token() -> Any:
    """Change the access token the portal accepts (`{"access_token": ...}`), as an admin who
    rotates or revokes the app's token does: calls with the old one answer 401."""
    value = _body().get("access_token")
    if not isinstance(value, str) or not value:
        raise validation("access_token must be a non-empty string")
    state().access_token = value
    return {"rotated": True}


@bp.post("/reset")
def reset() -> Any:
    """Zero stats, enrollments, faults and limit windows; contacts stay."""
    current = state()
    current.stats.reset()
    current.limits.reset()
    if current.webhooks is not None:
        current.webhooks.reset()
    with current.portal.lock:
        current.portal.flows.enrollments.clear()
    return {"reset": True}


@bp.post("/contacts")
def add_contacts() -> Any:
    """Create contacts as a user would (validated, creation webhooks); answers their ids."""
    rows = _body().get("contacts") or []
    portal = state().portal
    with portal.lock:
        ids = [str(portal.create_contact(row, source=UI).id) for row in rows]
    return {"ids": ids}, 201


@bp.post("/contacts/<contact_id>/merge")
def merge(contact_id: str) -> Any:
    """Merge this contact into `into`, as a user merging in HubSpot would."""
    into = _body().get("into")
    merged = state().portal.merge(str(into), contact_id, source=UI)
    return merged.to_json(None)


@bp.post("/contacts/<contact_id>/properties")
def edit(contact_id: str) -> Any:
    """Change properties as a user in HubSpot's UI would (webhooks, triggers, no API write)."""
    updated = state().portal.update_contact(contact_id, _body(), source=UI)
    return updated.to_json(list(updated.properties))
