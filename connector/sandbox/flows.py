"""Workflows: the v4 flows the installer creates, their legacy ids, and enrollments.

A flow enrolls contacts by itself when its `enrollmentCriteria` holds a PROPERTY filter
(v4 flows API, "Workflow actions and enrollment types"): a write that gives the property a
new non-empty value matching the filter's operation enrolls the contact, as HubSpot's
workflow engine would. Only that part of the criteria is emulated; other filter types,
branches and actions are stored and echoed but do nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from connector.sandbox.errors import not_found, validation
from connector.sandbox.values import iso_ms, now_ms

if TYPE_CHECKING:
    from connector.sandbox.portal import ContactVersion

# Operators that mean "the property has (any) value"
_KNOWN = {"IS_KNOWN", "HAS_EVER_BEEN_ANY_OF", "HAS_PROPERTY", None}


class Flows:
    """Flows by id, their legacy workflow ids, and the enrollments made (by API or trigger)."""

    def __init__(self) -> None:
        self.flows: dict[str, dict[str, Any]] = {}
        self.legacy_ids: dict[str, int] = {}
        self.enrollments: list[dict[str, Any]] = []
        self._flow_ids = itertools.count(585_051_001)
        self._legacy_ids = itertools.count(31_000_001)

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store a flow (POST /automation/v4/flows) and give it a legacy workflow id."""
        if not body.get("type") or not body.get("name"):
            raise validation("A flow needs `type` (e.g. CONTACT_FLOW) and `name`")
        flow_id = str(next(self._flow_ids))
        stamp = iso_ms(now_ms())
        flow = {**body, "id": flow_id, "revisionId": "1", "createdAt": stamp,
                "updatedAt": stamp, "isEnabled": bool(body.get("isEnabled", False)),
                "objectTypeId": body.get("objectTypeId", "0-1"),
                "flowType": body.get("flowType", "WORKFLOW")}
        self.flows[flow_id] = flow
        self.legacy_ids[flow_id] = next(self._legacy_ids)
        return flow

    def get(self, flow_id: str) -> dict[str, Any]:
        """One flow, or 404."""
        flow = self.flows.get(flow_id)
        if flow is None:
            raise not_found(f"Flow {flow_id} not found")
        return flow

    def mapping(self, flow_id: str | None = None, workflow_id: str | int | None = None
                ) -> dict[str, int] | None:
        """{flowId, workflowId} for a flow id or a legacy workflow id, None when unknown."""
        for fid, legacy in self.legacy_ids.items():
            if fid == str(flow_id) or str(legacy) == str(workflow_id):
                return {"flowId": int(fid), "workflowId": legacy}
        return None

    def flow_for_legacy(self, workflow_id: str) -> dict[str, Any] | None:
        """The flow behind a legacy (v2) workflow id."""
        found = self.mapping(workflow_id=workflow_id)
        return self.flows[str(found["flowId"])] if found else None

    def enroll(self, workflow_id: str, contact: ContactVersion, via: str, ms: int) -> None:
        """Record one enrollment of a contact in a workflow."""
        self.enrollments.append({
            "workflowId": str(workflow_id), "email": contact.properties.get("email"),
            "contactId": str(contact.id), "enrolledAt": iso_ms(ms), "via": via,
        })

    def on_change(self, contact: ContactVersion, before: Mapping[str, str], _now_ms: int
                  ) -> None:
        """Enroll the contact in every enabled flow whose property trigger this write met."""
        for flow_id, flow in self.flows.items():
            if not flow.get("isEnabled"):
                continue
            legacy = self.legacy_ids[flow_id]
            for prop, operation in _property_filters(flow.get("enrollmentCriteria") or {}):
                value = contact.properties.get(prop)
                if not value or value == before.get(prop) or not _matches(operation, value):
                    continue
                criteria = flow.get("enrollmentCriteria") or {}
                already = any(e["workflowId"] == str(legacy) and e["contactId"] == str(
                    contact.id) for e in self.enrollments)
                if not already or criteria.get("shouldReEnroll"):
                    self.enroll(str(legacy), contact, "property", _now_ms)
                break


def _property_filters(node: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        if node.get("filterType") == "PROPERTY" and node.get("property"):
            yield str(node["property"]), node.get("operation") or {}
        for child in node.values():
            yield from _property_filters(child)
    elif isinstance(node, list):
        for child in node:
            yield from _property_filters(child)


def _matches(operation: Mapping[str, Any], value: str) -> bool:
    operator = operation.get("operator")
    if operator in _KNOWN:
        return True
    wanted = operation.get("values") or ([operation["value"]] if "value" in operation else [])
    wanted_lower = {str(w).lower() for w in wanted}
    if operator in ("IS_EQUAL_TO", "IS_ANY_OF", "EQ", "IN"):
        return value.lower() in wanted_lower
    if operator in ("IS_NOT_EQUAL_TO", "IS_NONE_OF", "NEQ", "NOT_IN"):
        return value.lower() not in wanted_lower
    return False
