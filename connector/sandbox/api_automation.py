"""Workflows: v4 flows, workflow id mappings, and the legacy v2 enrollment endpoint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from connector.sandbox.api_common import json_body
from connector.sandbox.errors import batch_error
from connector.sandbox.state import state
from connector.sandbox.values import iso_ms, now_ms

bp = Blueprint("sandbox_automation", __name__, url_prefix="/automation")


@bp.get("/v4/flows")
def list_flows() -> Any:
    """Every flow of the portal."""
    portal = state().portal
    with portal.lock:
        return {"results": list(portal.flows.flows.values())}


@bp.post("/v4/flows")
def create_flow() -> Any:
    """Create a flow: 201 with its id."""
    portal = state().portal
    with portal.lock:
        return portal.flows.create(json_body()), 201


@bp.get("/v4/flows/<flow_id>")
def get_flow(flow_id: str) -> Any:
    """One flow, or 404."""
    portal = state().portal
    with portal.lock:
        return portal.flows.get(flow_id)


@bp.post("/v4/workflow-id-mappings/batch/read")
def workflow_id_mappings() -> Any:
    """Map v4 flow ids (FLOW_ID inputs) or legacy ids (WORKFLOW_ID inputs) to each other."""
    started = now_ms()
    inputs = json_body().get("inputs") or []
    portal = state().portal
    results, missing = [], []
    with portal.lock:
        for item in inputs:
            found = portal.flows.mapping(item.get("flowId"), item.get("workflowId"))
            if found is None:
                missing.append(str(item.get("flowId") or item.get("workflowId")))
            else:
                results.append(found)
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results,
                              "startedAt": iso_ms(started), "completedAt": iso_ms(now_ms())}
    if missing:
        answer["errors"] = [batch_error("OBJECT_NOT_FOUND", "Unknown flow or workflow ids",
                                        {"ids": missing})]
        answer["numErrors"] = 1
        return answer, 207
    return answer


@bp.post("/v2/workflows/<workflow_id>/enrollments/contacts/<path:email>")
def enroll(workflow_id: str, email: str) -> Any:
    """Enroll a contact by email in a contact-based workflow: 204, or 404."""
    state().portal.enroll(workflow_id, email)
    return Response(status=204)
