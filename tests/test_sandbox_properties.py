"""Properties and groups endpoints of the sandbox, through the real SDK."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput, SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate, PropertyUpdate
from hubspot.crm.properties.exceptions import ApiException

from connector.sandbox.server import SandboxHandle


def props_api(handle: SandboxHandle) -> HubSpot:
    return HubSpot(access_token="sandbox-token", host=handle.url)


def test_list_has_standard_and_signal_properties(sandbox: SandboxHandle) -> None:
    listed = props_api(sandbox).crm.properties.core_api.get_all("contacts")
    names = {p.name for p in listed.results}
    assert {"email", "firstname", "lastname", "lifecyclestage", "hs_object_id", "createdate",
            "lastmodifieddate", "hs_feedback_last_nps_rating", "hs_feedback_last_survey_date",
            "hs_email_optout", "product_logins_30d", "support_csat_score"} <= names
    assert "advocate_tier" not in names  # the installer creates the connector's own
    email = props_api(sandbox).crm.properties.core_api.get_by_name("contacts", "email")
    assert email.has_unique_value is True and email.type == "string"


def test_create_group_and_property_then_409(sandbox: SandboxHandle) -> None:
    client = props_api(sandbox).crm.properties
    group = client.groups_api.create("contacts", PropertyGroupCreate(name="advocacy",
                                                                    label="Advocacy"))
    assert group.name == "advocacy"
    created = client.core_api.create("contacts", PropertyCreate(
        name="advocate_tier", label="Advocate tier", type="enumeration", field_type="select",
        group_name="advocacy", options=[{"label": "Ready", "value": "ready", "displayOrder": 0,
                                         "hidden": False}]))
    assert created.name == "advocate_tier" and created.options[0].value == "ready"
    with pytest.raises(ApiException) as caught:
        client.core_api.create("contacts", PropertyCreate(
            name="advocate_tier", label="Again", type="string", field_type="text",
            group_name="advocacy"))
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["category"] == "OBJECT_ALREADY_EXISTS"
    with pytest.raises(ApiException) as group_again:
        client.groups_api.create("contacts", PropertyGroupCreate(name="advocacy", label="A"))
    assert group_again.value.status == 409


@pytest.mark.parametrize("type_, field_type, options", [
    ("number", "text", []),
    ("string", "select", []),
    ("enumeration", "select", []),
    ("datetime", "number", []),
    ("rocket", "text", []),
])
def test_invalid_definitions_are_400(sandbox: SandboxHandle, type_: str, field_type: str,
                                     options: list[object]) -> None:
    with pytest.raises(ApiException) as caught:
        props_api(sandbox).crm.properties.core_api.create("contacts", PropertyCreate(
            name="bad_one", label="Bad", type=type_, field_type=field_type,
            group_name="contactinformation", options=options))
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_unique_property_is_enforced_on_writes(sandbox: SandboxHandle) -> None:
    client = props_api(sandbox)
    client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="referral_code", label="Referral code", type="string", field_type="text",
        group_name="contactinformation", has_unique_value=True))
    contacts = client.crm.contacts.basic_api
    contacts.update("1", SimplePublicObjectInput(properties={"referral_code": "K7QX2M"}))
    with pytest.raises(ContactsApiException) as caught:
        contacts.update("2", SimplePublicObjectInput(properties={"referral_code": "K7QX2M"}))
    assert caught.value.status == 400
    with pytest.raises(ContactsApiException):
        contacts.create(SimplePublicObjectInputForCreate(properties={
            "email": "unique@example.org", "referral_code": "K7QX2M"}))
    contacts.update("1", SimplePublicObjectInput(properties={"referral_code": ""}))
    contacts.update("2", SimplePublicObjectInput(properties={"referral_code": "K7QX2M"}))


def test_patch_changes_label_but_never_uniqueness(sandbox: SandboxHandle) -> None:
    core = props_api(sandbox).crm.properties.core_api
    patched = core.update("contacts", "product_logins_30d",
                          PropertyUpdate(label="Logins in the last 30 days"))
    assert patched.label == "Logins in the last 30 days"
    assert core.get_by_name("contacts", "product_logins_30d").label == patched.label
    with pytest.raises(ApiException) as missing:
        core.get_by_name("contacts", "no_such_thing")
    assert missing.value.status == 404
