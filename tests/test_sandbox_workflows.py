"""Workflows in the sandbox: v4 flows, id mappings, v2 enrollment, property-trigger flows."""

from __future__ import annotations

from typing import Any

import requests
from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import PropertyCreate

from connector.sandbox.server import SandboxHandle

AUTH = {"Authorization": "Bearer sandbox-token"}


def trigger_flow(name: str, prop: str) -> dict[str, Any]:
    """A contact flow enrolling on `prop` becoming known, shaped like the installer's."""
    condition = {"filterType": "PROPERTY", "property": prop,
                 "operation": {"operator": "IS_KNOWN", "operationType": "ALL_PROPERTY"}}
    branch = {"filterBranchType": "AND", "filters": [condition], "filterBranches": []}
    return {"type": "CONTACT_FLOW", "objectTypeId": "0-1", "flowType": "WORKFLOW",
            "name": name, "isEnabled": True, "actions": [],
            "enrollmentCriteria": {"type": "LIST_BASED", "shouldReEnroll": True,
                                   "listFilterBranch": {"filterBranchType": "OR", "filters": [],
                                                        "filterBranches": [branch]},
                                   "reEnrollmentTriggersFilterBranches": [branch]}}


def create_flow(handle: SandboxHandle, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{handle.url}/automation/v4/flows", json=body, headers=AUTH,
                           timeout=5)
    assert answer.status_code == 201
    return answer.json()  # type: ignore[no-any-return]


def legacy_id(handle: SandboxHandle, flow_id: str) -> int:
    client = HubSpot(access_token="sandbox-token", base_url=handle.url)
    answer = client.api_request({"method": "POST",
                                 "path": "/automation/v4/workflow-id-mappings/batch/read",
                                 "body": {"inputs": [{"type": "FLOW_ID", "flowId": flow_id}]}})
    assert answer.status_code == 200
    [mapping] = answer.json()["results"]
    assert mapping["flowId"] == int(flow_id)
    return int(mapping["workflowId"])


def enrollments(handle: SandboxHandle) -> list[dict[str, Any]]:
    return requests.get(f"{handle.url}/_sandbox/enrollments", timeout=5).json()  # type: ignore


def test_flows_are_created_listed_and_read(sandbox: SandboxHandle) -> None:
    flow = create_flow(sandbox, trigger_flow("Advocate: invite", "referral_status"))
    assert flow["id"].isdigit() and flow["revisionId"] and flow["isEnabled"] is True
    listed = requests.get(f"{sandbox.url}/automation/v4/flows", headers=AUTH, timeout=5).json()
    assert [f["name"] for f in listed["results"]] == ["Advocate: invite"]
    one = requests.get(f"{sandbox.url}/automation/v4/flows/{flow['id']}", headers=AUTH,
                       timeout=5)
    assert one.json()["enrollmentCriteria"]["type"] == "LIST_BASED"
    assert requests.get(f"{sandbox.url}/automation/v4/flows/1", headers=AUTH,
                        timeout=5).status_code == 404
    workflow_id = legacy_id(sandbox, flow["id"])
    back = requests.post(f"{sandbox.url}/automation/v4/workflow-id-mappings/batch/read",
                         headers=AUTH, timeout=5, json={"inputs": [
                             {"type": "WORKFLOW_ID", "workflowId": str(workflow_id)}]}).json()
    assert back["results"] == [{"flowId": int(flow["id"]), "workflowId": workflow_id}]


def test_v2_enrollment_by_email(sandbox: SandboxHandle) -> None:
    workflow_id = legacy_id(sandbox, create_flow(sandbox, {
        "type": "CONTACT_FLOW", "name": "Reward", "isEnabled": True})["id"])
    email = sandbox.portal.get_contact(8).properties["email"]  # type: ignore[union-attr]
    client = HubSpot(access_token="sandbox-token", base_url=sandbox.url)
    path = f"/automation/v2/workflows/{workflow_id}/enrollments/contacts/{email}"
    assert client.api_request({"method": "POST", "path": path}).status_code == 204
    [enrolled] = enrollments(sandbox)
    assert enrolled["workflowId"] == str(workflow_id) and enrolled["contactId"] == "8"
    assert enrolled["email"] == email and enrolled["enrolledAt"].endswith("Z")
    unknown_contact = f"/automation/v2/workflows/{workflow_id}/enrollments/contacts/x@nowhere.io"
    assert client.api_request({"method": "POST", "path": unknown_contact}).status_code == 404
    unknown_flow = f"/automation/v2/workflows/999/enrollments/contacts/{email}"
    assert client.api_request({"method": "POST", "path": unknown_flow}).status_code == 404
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5)
    assert enrollments(sandbox) == []


def test_property_trigger_enrolls_on_a_new_value(sandbox: SandboxHandle) -> None:
    client = HubSpot(access_token="sandbox-token", host=sandbox.url)
    client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="referral_status", label="Referral status", type="enumeration",
        field_type="select", group_name="contactinformation", options=[
            {"label": v, "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(["none", "invited", "reminded"])]))
    workflow_id = legacy_id(sandbox, create_flow(
        sandbox, trigger_flow("Advocate: invite", "referral_status"))["id"])
    create_flow(sandbox, {**trigger_flow("Disabled", "referral_status"), "isEnabled": False})
    batch = client.crm.contacts.batch_api
    batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": str(i), "properties": {"referral_status": "invited"}} for i in (1, 2)]))
    batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": "1", "properties": {"referral_status": "invited"}}]))  # no change: no enrollment
    batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": "1", "properties": {"referral_status": "reminded"}}]))  # re-enrollment trigger
    made = enrollments(sandbox)
    assert [(e["contactId"], e["workflowId"]) for e in made] == [
        ("1", str(workflow_id)), ("2", str(workflow_id)), ("1", str(workflow_id))]
    assert all(e["via"] == "property" for e in made)
