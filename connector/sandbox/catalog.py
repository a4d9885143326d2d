"""Contact property definitions: HubSpot's standard ones, the seeded signal ones, and checks.

Type/fieldType pairs are HubSpot's table in `connector.hubspot.schema.VALID_FIELD_TYPES`.
"""

from __future__ import annotations

from typing import Any

from connector.hubspot.schema import VALID_FIELD_TYPES
from connector.sandbox.errors import HubSpotError, validation
from connector.sandbox.values import iso_date, iso_ms, parse_number, parse_time_ms

LIFECYCLE_STAGES = [
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
    "opportunity", "customer", "evangelist", "other",
]
# Written only by HubSpot itself; HubSpot refuses API writes to them
READ_ONLY = {"hs_object_id", "lastmodifieddate", "hs_merged_object_ids"}
# What GET and search return when the request names no properties (CRM search guide)
DEFAULT_PROPERTIES = ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                      "lastname"]
# Free-text `query` of search looks in these (CRM search guide: default searchable properties)
QUERY_PROPERTIES = ["email", "firstname", "lastname", "phone", "company", "hs_additional_emails"]


def _options(values: list[str]) -> list[dict[str, Any]]:
    return [{"label": v, "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(values)]


# (name, label, type, fieldType, group, options, unique)
_STANDARD: list[tuple[str, str, str, str, str, list[str], bool]] = [
    ("email", "Email", "string", "text", "contactinformation", [], True),
    ("firstname", "First Name", "string", "text", "contactinformation", [], False),
    ("lastname", "Last Name", "string", "text", "contactinformation", [], False),
    ("company", "Company Name", "string", "text", "contactinformation", [], False),
    ("phone", "Phone Number", "string", "phonenumber", "contactinformation", [], False),
    ("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
     "contactinformation", [], False),
    ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation",
     LIFECYCLE_STAGES, False),
    ("hs_lifecyclestage_customer_date", "Became a Customer Date", "datetime", "date",
     "contactinformation", [], False),
    ("hs_object_id", "Record ID", "number", "number", "contactinformation", [], True),
    ("createdate", "Create Date", "datetime", "date", "contactinformation", [], False),
    ("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", [],
     False),
    ("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox",
     "contactinformation", [], False),
    ("hs_feedback_last_nps_rating", "Last NPS survey rating", "enumeration", "select",
     "feedback_information", [str(n) for n in range(11)], False),
    ("hs_feedback_last_nps_follow_up", "Last NPS survey comment", "string", "textarea",
     "feedback_information", [], False),
    ("hs_feedback_last_survey_date", "Last NPS survey date", "datetime", "date",
     "feedback_information", [], False),
    ("hs_email_last_open_date", "Last marketing email open date", "datetime", "date",
     "emailinformation", [], False),
    ("hs_email_last_click_date", "Last marketing email click date", "datetime", "date",
     "emailinformation", [], False),
    ("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox",
     "emailinformation", ["true", "false"], False),
    ("total_revenue", "Total Revenue", "number", "number", "deal_information", [], False),
    ("num_associated_deals", "Associated Deals", "number", "number", "deal_information", [],
     False),
    ("recent_deal_close_date", "Recent Deal Close Date", "datetime", "date",
     "deal_information", [], False),
    ("recent_deal_amount", "Recent Deal Amount", "number", "number", "deal_information", [],
     False),
]

# Custom properties a typical portal has for product usage and support health (seeded)
_SIGNALS: list[tuple[str, str, str, str, str, list[str], bool]] = [
    ("product_logins_30d", "Product logins (30 days)", "number", "number", "product_signals",
     [], False),
    ("success_milestones_reached", "Success milestones reached", "number", "number",
     "product_signals", [], False),
    ("social_mentions_90d", "Social mentions (90 days)", "number", "number", "product_signals",
     [], False),
    ("open_support_escalations", "Open support escalations", "number", "number",
     "product_signals", [], False),
    ("support_csat_score", "Support CSAT score", "number", "number", "product_signals", [],
     False),
]

STANDARD_GROUPS = {
    "contactinformation": "Contact information",
    "feedback_information": "Feedback information",
    "emailinformation": "Email information",
    "deal_information": "Deal information",
    "product_signals": "Product signals",
}


def property_definition(
    name: str, label: str, type_: str, field_type: str, group: str,
    options: list[Any], unique: bool = False, *, hubspot_defined: bool = False,
    description: str = "", created_at: str = "2020-01-01T00:00:00.000Z",
    display_order: int = -1,
) -> dict[str, Any]:
    """A property as GET /crm/v3/properties/contacts returns it."""
    read_only = name in READ_ONLY
    return {
        "name": name, "label": label, "type": type_, "fieldType": field_type,
        "description": description, "groupName": group,
        "options": options if options and isinstance(options[0], dict) else _options(options),
        "displayOrder": display_order, "calculated": False, "externalOptions": False,
        "hasUniqueValue": unique, "hidden": False, "hubspotDefined": hubspot_defined,
        "formField": not read_only, "archived": False,
        "createdAt": created_at, "updatedAt": created_at,
        "modificationMetadata": {"archivable": not hubspot_defined,
                                 "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": read_only},
    }


def initial_properties() -> dict[str, dict[str, Any]]:
    """The properties a fresh sandbox portal has: standard ones and the signal ones."""
    defs = {row[0]: property_definition(*row, hubspot_defined=True) for row in _STANDARD}
    defs.update({row[0]: property_definition(*row) for row in _SIGNALS})
    return defs


def check_new_property(body: dict[str, Any]) -> None:
    """Raise 400 VALIDATION_ERROR when a property create body is not one HubSpot accepts."""
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation(f"Property is missing required fields: {', '.join(missing)}")
    type_, field_type = body["type"], body["fieldType"]
    if type_ not in VALID_FIELD_TYPES:
        raise validation(f"{type_!r} is not a valid property type")
    if field_type not in VALID_FIELD_TYPES[type_]:
        raise validation(f"fieldType {field_type!r} is not valid for a property of type {type_!r}")
    options = body.get("options") or []
    if type_ == "enumeration" and field_type != "booleancheckbox" and not options:
        raise validation("an enumeration property needs at least one option")
    values = [o.get("value") if isinstance(o, dict) else None for o in options]
    if any(not isinstance(v, str) or not v for v in values):
        raise validation("every option needs a non-empty string `value` and a `label`")
    if len(set(values)) != len(values):
        raise validation("option values must be unique")


def normalise_value(definition: dict[str, Any], raw: str) -> str:
    """The stored form of a written value, or 400 with HubSpot's per-property error code."""
    type_ = definition["type"]
    name = definition["name"]
    if type_ == "number":
        if parse_number(raw) is None:
            raise _invalid(name, raw, "INVALID_FLOAT", f"{raw} was not a valid number.")
        return raw
    if type_ in ("datetime", "date"):
        ms = parse_time_ms(raw)
        if ms is None:
            raise _invalid(name, raw, "INVALID_DATE", f"{raw} is not a valid date.")
        return iso_ms(ms) if type_ == "datetime" else iso_date(ms)
    if type_ == "bool":
        if raw.lower() not in ("true", "false"):
            raise _invalid(name, raw, "INVALID_BOOLEAN", f"{raw} is not a valid boolean.")
        return raw.lower()
    if type_ == "enumeration" and definition["fieldType"] != "checkbox":
        allowed = {o["value"] for o in definition["options"]}
        if raw not in allowed:
            raise _invalid(name, raw, "INVALID_OPTION",
                           f"{raw} was not one of the allowed options: {sorted(allowed)}")
    if name == "email":
        return raw.strip().lower()
    return raw


def _invalid(name: str, value: str, code: str, message: str) -> HubSpotError:
    # HubSpot's body for a bad value: "Property values were not valid: [...]" (VALIDATION_ERROR)
    return validation(
        f'Property values were not valid: [{{"isValid":false,"message":"{message}",'
        f'"error":"{code}","name":"{name}"}}]',
        errors=[{"message": message, "code": code, "context": {"propertyName": [name]}}],
    )


def unknown_property(name: str) -> HubSpotError:
    """400 for a write naming a property the portal does not have."""
    return _invalid(name, "", "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
