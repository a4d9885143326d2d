"""Contacts endpoints of the sandbox, driven through the real SDK over HTTP."""

from __future__ import annotations

import re
import time

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicGdprDeleteInput,
    PublicMergeInput,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException

from connector.sandbox.server import SandboxHandle

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def client(handle: SandboxHandle, token: str = "sandbox-token") -> HubSpot:  # noqa: S107
    return HubSpot(access_token=token, host=handle.url)


def test_get_returns_hubspot_shape_with_string_values(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    contact = api.get_by_id("1", properties=["email", "product_logins_30d", "hs_email_optout"])
    assert contact.id == "1"
    assert contact.properties["hs_object_id"] == "1"
    assert all(v is None or isinstance(v, str) for v in contact.properties.values())
    assert ISO_MS.match(contact.properties["lastmodifieddate"])
    assert contact.created_at is not None and contact.updated_at is not None
    assert contact.archived is False
    raw = requests.get(f"{sandbox.url}/crm/v3/objects/contacts/1",
                       headers={"Authorization": "Bearer sandbox-token"}, timeout=5).json()
    assert set(raw) >= {"id", "properties", "createdAt", "updatedAt", "archived"}


def test_wrong_token_is_401_with_hubspot_error_body(sandbox: SandboxHandle) -> None:
    with pytest.raises(ApiException) as caught:
        client(sandbox, "wrong").crm.contacts.basic_api.get_by_id("1")
    assert caught.value.status == 401
    body = requests.get(f"{sandbox.url}/crm/v3/objects/contacts/1", timeout=5).json()
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert re.match(r"^[0-9a-f-]{36}$", body["correlationId"])


def test_create_update_moves_lastmodifieddate_and_stringifies(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    created = api.create(SimplePublicObjectInputForCreate(properties={
        "email": "New.Person@Example.com", "firstname": "New", "product_logins_30d": 12}))
    assert created.properties["email"] == "new.person@example.com"
    assert created.properties["product_logins_30d"] == "12"
    before = created.properties["lastmodifieddate"]
    time.sleep(0.005)
    updated = api.update(created.id, SimplePublicObjectInput(
        properties={"hs_email_optout": True, "hs_feedback_last_survey_date": 1740830400000}))
    assert updated.properties["hs_email_optout"] == "true"
    assert updated.properties["hs_feedback_last_survey_date"] == "2025-03-01T12:00:00.000Z"
    assert updated.properties["lastmodifieddate"] > before
    assert updated.updated_at > created.updated_at
    by_email = api.get_by_id("new.person@example.com", id_property="email")
    assert by_email.id == created.id


def test_equal_values_are_no_change(sandbox: SandboxHandle) -> None:
    before = sandbox.portal.get_contact(1)
    assert before is not None
    api = client(sandbox).crm.contacts.basic_api
    api.update("1", SimplePublicObjectInput(properties={"firstname": before.properties[
        "firstname"]}))
    after = sandbox.portal.get_contact(1)
    assert after is not None and after.updated_ms == before.updated_ms


def test_unknown_contact_and_property_and_bad_value(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    with pytest.raises(ApiException) as missing:
        api.get_by_id("999999")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as unknown:
        api.update("1", SimplePublicObjectInput(properties={"no_such_property": "x"}))
    assert unknown.value.status == 400 and "PROPERTY_DOESNT_EXIST" in unknown.value.body
    with pytest.raises(ApiException) as bad:
        api.update("1", SimplePublicObjectInput(properties={"lifecyclestage": "champion"}))
    assert bad.value.status == 400 and "VALIDATION_ERROR" in bad.value.body


def test_duplicate_email_is_409(sandbox: SandboxHandle) -> None:
    existing = sandbox.portal.get_contact(2)
    assert existing is not None
    with pytest.raises(ApiException) as caught:
        client(sandbox).crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"email": existing.properties["email"].upper()}))
    assert caught.value.status == 409
    assert "Existing ID: 2" in caught.value.body


def test_list_pages_with_after(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    first = api.get_page(limit=20, properties=["email"])
    assert [c.id for c in first.results] == [str(i) for i in range(1, 21)]
    second = api.get_page(limit=20, after=first.paging.next.after)
    assert second.results[0].id == "21"
    last = api.get_page(limit=100, after="40")
    assert len(last.results) == 10 and last.paging is None


def test_archive_emits_and_hides(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    api.archive("3")
    with pytest.raises(ApiException):
        api.get_by_id("3")
    assert api.get_by_id("3", archived=True).archived is True


def test_batch_read_honours_properties_and_reports_missing_with_207(
        sandbox: SandboxHandle) -> None:
    batch = client(sandbox).crm.contacts.batch_api
    answer = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "1"}, {"id": "2"}, {"id": "424242"}],
        properties=["email", "lifecyclestage"], properties_with_history=[]))
    assert sorted(r.id for r in answer.results) == ["1", "2"]
    assert set(answer.results[0].properties) == {
        "email", "lifecyclestage", "hs_object_id", "createdate", "lastmodifieddate"}
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["424242"]}
    email = sandbox.portal.get_contact(5).properties["email"]  # type: ignore[union-attr]
    by_email = batch.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": email}], id_property="email", properties=["email"],
        properties_with_history=[]))
    assert by_email.results[0].id == "5"


def test_batch_update_207_partial_and_400_over_100(sandbox: SandboxHandle) -> None:
    batch = client(sandbox).crm.contacts.batch_api
    answer = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": "1", "properties": {"product_logins_30d": "7"}},
        {"id": "777777", "properties": {"product_logins_30d": "7"}},
    ]))
    assert [r.id for r in answer.results] == ["1"]
    assert answer.errors[0].context == {"ids": ["777777"]}
    assert sandbox.portal.get_contact(1).properties["product_logins_30d"] == "7"  # type: ignore
    with pytest.raises(ApiException) as too_many:
        batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": str(i), "properties": {"firstname": "x"}} for i in range(1, 102)]))
    assert too_many.value.status == 400
    with pytest.raises(ApiException) as duplicate:
        batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": "1", "properties": {"firstname": "x"}},
            {"id": "1", "properties": {"firstname": "y"}}]))
    assert duplicate.value.status == 400


def test_batch_create_and_archive(sandbox: SandboxHandle) -> None:
    batch = client(sandbox).crm.contacts.batch_api
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": f"batch{i}@example.org"}, "associations": []}
        for i in range(3)]))
    ids = sorted(r.id for r in created.results)
    assert len(ids) == 3
    batch.archive(BatchInputSimplePublicObjectId(inputs=[{"id": i} for i in ids]))
    assert all(sandbox.portal.get_contact(i) is None for i in ids)


def test_stats_count_requests_statuses_and_record_writes(sandbox: SandboxHandle) -> None:
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5)
    api = client(sandbox).crm.contacts
    api.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": str(i), "properties": {"support_csat_score": "5"}} for i in range(1, 11)]))
    api.basic_api.update("11", SimplePublicObjectInput(properties={"support_csat_score": "4"}))
    with pytest.raises(ApiException):
        api.basic_api.get_by_id("31337")
    requests.post(f"{sandbox.url}/_sandbox/contacts/12/properties",
                  json={"firstname": "Edited"}, timeout=5)  # a user's edit is no API write
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()
    assert stats["writes"] == 11
    assert stats["requests"]["POST /crm/v3/objects/contacts/batch/update"] == 1
    assert stats["requests"]["GET /crm/v3/objects/contacts/<contact_id>"] == 1
    assert stats["status"] == {"200": 2, "404": 1}


def test_gdpr_delete_and_merge(sandbox: SandboxHandle) -> None:
    api = client(sandbox).crm.contacts.basic_api
    email = sandbox.portal.get_contact(9).properties["email"]  # type: ignore[union-attr]
    api.purge(PublicGdprDeleteInput(object_id=email, id_property="email"))  # gdpr-delete
    assert sandbox.portal.get_contact(9) is None
    merged = api.merge(PublicMergeInput(primary_object_id="10", object_id_to_merge="11"))
    assert merged.id == "10"
    assert merged.properties["hs_object_id"] == "10"
    assert api.get_by_id("11").id == "10"  # a merged-away id answers with the survivor
    assert sandbox.portal.get_contact(10).properties["hs_merged_object_ids"] == "11"  # type: ignore
