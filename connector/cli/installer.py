"""`connector install`: plan and make the property group, properties and flows, idempotently.

Properties: `POST /crm/v3/properties/contacts` (409 when the name exists); a property's type
and uniqueness are never changed silently: a different one is a conflict for the admin
(https://developers.hubspot.com/docs/api/crm/properties). Flows: the v4 flows API (beta),
`POST /automation/v4/flows`; legacy (v2) ids through `workflow-id-mappings/batch/read`
(https://developers.hubspot.com/docs/api/automation/create-manage-workflows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.hubspot.gateway import HubSpotGateway
from connector.hubspot.limiter import BURST
from connector.hubspot.notes import INVERSE_LABEL, LABEL, create_referral_label, referral_label
from connector.hubspot.retry import status_of
from connector.hubspot.schema import PropertyDefinition, PropertySchema
from connector.program.config import ProgramConfig

OBJECT_TYPE = "contacts"
FLOW_NAME_PREFIX = "Advocate connector: "

CREATE, UPDATE, UP_TO_DATE, CONFLICT, SKIPPED = (
    "create", "update", "up to date", "conflict", "skipped",
)


class StepRefused(Exception):
    """HubSpot refused a change the connector can do without; the message says what follows."""


@dataclass
class Step:
    """One thing install checks: what it is, what it will do, and why."""

    kind: str  # group | property | flow
    name: str
    action: str
    detail: str = ""
    apply: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)


@dataclass
class Plan:
    """Everything install would do; `apply` makes the changes and notes their results."""

    steps: list[Step] = field(default_factory=list)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in (CREATE, UPDATE)]

    @property
    def conflicts(self) -> list[Step]:
        return [s for s in self.steps if s.action == CONFLICT]

    def apply(self) -> None:
        """Make every planned change, in order (the group before its properties); a change
        HubSpot refuses that the connector can do without is `skipped`, with why."""
        for step in self.changes:
            assert step.apply is not None
            try:
                note = step.apply()
            except StepRefused as refused:
                step.action, step.detail = SKIPPED, str(refused)
                continue
            step.detail = note or step.detail
            step.action = "created" if step.action == CREATE else "updated"


def trigger_definitions(schema: PropertySchema, program: ProgramConfig | None
                        ) -> list[PropertyDefinition]:
    """Trigger properties the program writes in `property` mode that the schema lacks."""
    if program is None:
        return []
    known = {d.name for d in schema.definitions.values()}
    extra = []
    for workflow in program.workflows.values():
        trigger = workflow.trigger_property
        if program.enrollment_mode == "property" and trigger and trigger not in known:
            known.add(trigger)
            extra.append(PropertyDefinition(
                key=f"trigger_{workflow.step}", name=trigger,
                label=f"Referral trigger: {workflow.step.replace('_', ' ')}",
                type="string", field_type="text",
                description=f"Set by the Advocate connector to enroll the contact in the "
                            f"{workflow.step.replace('_', ' ')} workflow.",
            ))
    return extra


def _options(prop: Any) -> list[str]:
    return [str(o.value) for o in (getattr(prop, "options", None) or [])]


class Installer:
    """Compares what HubSpot has with what the connector needs and plans the difference."""

    def __init__(self, gateway: HubSpotGateway, schema: PropertySchema,
                 program: ProgramConfig | None) -> None:
        self.gateway = gateway
        self.apis = gateway.apis
        self.schema = schema
        self.program = program

    def plan(self) -> Plan:
        """Read HubSpot (the first call also verifies the token) and plan; writes nothing."""
        existing = {p.name: p for p in self._existing_properties()}
        plan = Plan()
        plan.steps.append(self._plan_group())
        for definition in [*self.schema.definitions.values(),
                           *trigger_definitions(self.schema, self.program)]:
            plan.steps.append(self._plan_property(definition, existing.get(definition.name)))
        plan.steps.extend(self._plan_flows())
        plan.steps.append(self._plan_label())
        return plan

    # -- the referral label between contacts ---------------------------------------------

    def _plan_label(self) -> Step:
        name = f"{LABEL} / {INVERSE_LABEL}"
        without = "referrals still show as notes on both records, without the label"
        try:
            found = referral_label(self.gateway)
        except Exception as exc:  # noqa: BLE001 - the label is optional: say why, go on
            return Step("label", name, SKIPPED, f"HubSpot answered {status_of(exc) or exc} "
                                                f"to reading association labels: {without}")
        if found is not None:
            return Step("label", name, UP_TO_DATE, f"contact-to-contact label {found}")

        def create() -> None:
            try:
                create_referral_label(self.gateway)
            except Exception as exc:
                status = status_of(exc)
                if status is None or status >= 500:
                    raise
                raise StepRefused(f"HubSpot refused the label ({status}; the portal's "
                                  f"subscription may not include custom association labels): "
                                  f"{without}") from exc

        return Step("label", name, CREATE, "paired contact-to-contact association label", create)

    # -- properties --------------------------------------------------------------------

    def _existing_properties(self) -> list[Any]:
        data, _status, _headers = self.gateway.call(
            "GET /crm/v3/properties/contacts", BURST,
            lambda: self.apis.properties.get_all_with_http_info(
                OBJECT_TYPE, archived=False, _request_timeout=self.apis.timeout),
        )
        return list(data.results or []) if data else []

    def _plan_group(self) -> Step:
        name = self.schema.group_name
        data, _status, _headers = self.gateway.call(
            "GET /crm/v3/properties/contacts/groups", BURST,
            lambda: self.apis.property_groups.get_all_with_http_info(
                OBJECT_TYPE, _request_timeout=self.apis.timeout),
        )
        if any(g.name == name for g in (data.results or [] if data else [])):
            return Step("group", name, UP_TO_DATE)
        body = {"name": name, "label": self.schema.group_label}

        def create() -> None:
            self.gateway.call(
                "POST /crm/v3/properties/contacts/groups", BURST,
                lambda: self.apis.property_groups.create_with_http_info(
                    OBJECT_TYPE, body, _request_timeout=self.apis.timeout),
                retry_server_errors=False,
            )

        return Step("group", name, CREATE, self.schema.group_label, create)

    def _plan_property(self, wanted: PropertyDefinition, found: Any) -> Step:
        kind = f"{wanted.type}/{wanted.field_type}"
        if found is None:
            body = wanted.to_hubspot(self.schema.group_name)

            def create() -> None:
                self.gateway.call(
                    "POST /crm/v3/properties/contacts", BURST,
                    lambda: self.apis.properties.create_with_http_info(
                        OBJECT_TYPE, body, _request_timeout=self.apis.timeout),
                    retry_server_errors=False,
                )

            return Step("property", wanted.name, CREATE, kind, create)
        if found.type != wanted.type:
            return Step("property", wanted.name, CONFLICT,
                        f"HubSpot has type {found.type}, the connector needs {wanted.type}: "
                        f"rename it in mappings/properties.yaml or resolve it in HubSpot")
        if wanted.has_unique_value and not getattr(found, "has_unique_value", False):
            return Step("property", wanted.name, CONFLICT,
                        "exists without unique values, and HubSpot never changes uniqueness: "
                        "rename it in mappings/properties.yaml")
        missing = [o for o in wanted.options if o not in _options(found)]
        if missing:
            return self._plan_options(wanted, found, missing)
        detail = "" if found.field_type == wanted.field_type else \
            f"fieldType {found.field_type} kept (the connector would use {wanted.field_type})"
        return Step("property", wanted.name, UP_TO_DATE, detail)

    def _plan_options(self, wanted: PropertyDefinition, found: Any, missing: list[str]) -> Step:
        # adding options loses nothing: keep every existing option, append the missing ones
        kept = [{"label": o.label, "value": o.value, "displayOrder": o.display_order,
                 "hidden": bool(o.hidden)} for o in found.options or []]
        added = [{"label": o["label"], "value": o["value"], "displayOrder": len(kept) + n,
                  "hidden": False}
                 for n, o in enumerate(o for o in wanted.to_hubspot("")["options"]
                                       if o["value"] in missing)]
        body = {"options": kept + added}

        def update() -> None:
            self.gateway.call(
                "PATCH /crm/v3/properties/contacts/{name}", BURST,
                lambda: self.apis.properties.update_with_http_info(
                    OBJECT_TYPE, wanted.name, body, _request_timeout=self.apis.timeout),
            )

        return Step("property", wanted.name, UPDATE, "add options " + ", ".join(missing), update)

    # -- flows -------------------------------------------------------------------------

    def _plan_flows(self) -> list[Step]:
        if self.program is None:
            return [Step("flow", "workflows", SKIPPED, "no program file: workflows not checked")]
        steps: list[Step] = []
        flows_by_name: dict[str, Any] | None = None
        for workflow in self.program.workflows.values():
            if workflow.workflow_id:
                steps.append(self._check_workflow_id(workflow.step, workflow.workflow_id))
            elif self.program.enrollment_mode == "property" and workflow.trigger_property:
                if flows_by_name is None:
                    flows_by_name = {str(f.get("name")): f for f in self._existing_flows()}
                steps.append(self._plan_flow(workflow.step, workflow.trigger_property,
                                             flows_by_name))
        return steps

    def _check_workflow_id(self, step: str, workflow_id: str) -> Step:
        body = {"inputs": [{"workflowId": workflow_id, "type": "WORKFLOW_ID"}]}
        answer = self.gateway.call(
            "POST /automation/v4/workflow-id-mappings/batch/read", BURST,
            lambda: self.apis.request(
                "POST", "/automation/v4/workflow-id-mappings/batch/read", body=body),
        ).json()
        if answer.get("results"):
            return Step("flow", step, UP_TO_DATE, f"workflow {workflow_id} exists")
        return Step("flow", step, CONFLICT,
                    f"workflow {workflow_id} not found in HubSpot: fix "
                    f"enrollment.workflows.{step}.workflow_id in the program file")

    def _existing_flows(self) -> list[dict[str, Any]]:
        flows: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            answer = self._flows_page(after)
            flows.extend(answer.get("results") or [])
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return flows

    def _flows_page(self, after: str | None) -> dict[str, Any]:
        qs = {"after": after} if after else None
        answer: dict[str, Any] = self.gateway.call(
            "GET /automation/v4/flows", BURST,
            lambda: self.apis.request("GET", "/automation/v4/flows", qs=qs),
        ).json()
        return answer

    def _plan_flow(self, step: str, trigger: str, flows_by_name: dict[str, Any]) -> Step:
        name = FLOW_NAME_PREFIX + step.replace("_", " ")
        if name in flows_by_name:
            return Step("flow", step, UP_TO_DATE, f"flow {flows_by_name[name].get('id')}")
        body = flow_definition(name, trigger)

        def create() -> str:
            created = self.gateway.call(
                "POST /automation/v4/flows", BURST,
                lambda: self.apis.request("POST", "/automation/v4/flows", body=body),
                retry_server_errors=False,
            ).json()
            return f"flow {created.get('id')}: add its message in HubSpot"

        return Step("flow", step, CREATE, f"on {trigger}", create)


def flow_definition(name: str, trigger: str) -> dict[str, Any]:
    """A contact flow that (re-)enrolls a contact whenever `trigger` gets a new value."""
    condition = {"filterType": "PROPERTY", "property": trigger,
                 "operation": {"operator": "IS_KNOWN", "operationType": "ALL_PROPERTY",
                               "includeObjectsWithNoValueSet": False}}
    branch = {"filterBranchType": "AND", "filterBranchOperator": "AND", "filters": [condition],
              "filterBranches": []}
    return {
        "type": "CONTACT_FLOW", "objectTypeId": "0-1", "flowType": "WORKFLOW", "name": name,
        "description": "Created by the Advocate connector; add the message to send.",
        "isEnabled": True, "actions": [],
        "enrollmentCriteria": {
            "type": "LIST_BASED", "shouldReEnroll": True,
            "unEnrollObjectsNotMeetingCriteria": False,
            "listFilterBranch": {"filterBranchType": "OR", "filterBranchOperator": "OR",
                                 "filters": [], "filterBranches": [branch]},
            "reEnrollmentTriggersFilterBranches": [branch],
        },
    }
