"""Workflow "Send a webhook" actions: authenticated by HubSpot's v2 signature or our API key."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import InboxEvent
from connector.web.signatures import sign_v2

PATH = "/webhooks/workflow/nps_promoter"
RECORD = {"hs_object_id": "501", "email": "ada@example.com", "hs_feedback_last_nps_rating": "10"}


def rows(engine):
    with Session(engine) as session:
        return list(session.scalars(select(InboxEvent)))


def test_api_key_in_header_stores_the_object_id_only(webhook_client, runtime):
    response = webhook_client.post(PATH, json=RECORD, headers={"X-Connector-Key": "workflow-key"})
    assert response.status_code == 204
    (row,) = rows(runtime.engine)
    assert (row.source, row.object_id, row.subscription_type) == (
        "workflow", "501", "workflow.nps_promoter")
    assert "ada@example.com" not in json.dumps(row.payload)


def test_api_key_in_query_or_bearer(webhook_client, runtime):
    assert webhook_client.post(PATH + "?key=workflow-key", json=RECORD).status_code == 204
    other = dict(RECORD, hs_object_id="502")
    bearer = {"Authorization": "Bearer workflow-key"}
    assert webhook_client.post(PATH, json=other, headers=bearer).status_code == 204
    assert len(rows(runtime.engine)) == 2


def test_wrong_or_missing_key_is_401(webhook_client, runtime):
    assert webhook_client.post(PATH, json=RECORD, headers={"X-Connector-Key": "nope"}
                               ).status_code == 401
    assert webhook_client.post(PATH, json=RECORD).status_code == 401
    assert rows(runtime.engine) == []


def test_v2_signature_is_accepted_and_checked(webhook_client, runtime):
    body = json.dumps(RECORD).encode()
    url = "http://connector.test" + PATH
    headers = {"X-HubSpot-Signature": sign_v2("test-secret", "POST", url, body),
               "X-HubSpot-Signature-Version": "v2", "Content-Type": "application/json"}
    assert webhook_client.post(PATH, data=body, headers=headers).status_code == 204
    # a forged signature fails even with the right key alongside
    headers["X-HubSpot-Signature"] = "0" * 64
    headers["X-Connector-Key"] = "workflow-key"
    assert webhook_client.post(PATH, data=body, headers=headers).status_code == 401
    assert len(rows(runtime.engine)) == 1


def test_legacy_nested_properties_are_understood(webhook_client, runtime):
    record = {"vid": 777, "properties": {"hs_object_id": {"value": "777"}}}
    auth = {"X-Connector-Key": "workflow-key"}
    assert webhook_client.post(PATH, json=record, headers=auth).status_code == 204
    assert rows(runtime.engine)[0].object_id == "777"


def test_same_action_twice_is_stored_once_a_changed_record_again(webhook_client, runtime):
    auth = {"X-Connector-Key": "workflow-key"}
    assert webhook_client.post(PATH, json=RECORD, headers=auth).status_code == 204
    assert webhook_client.post(PATH, json=RECORD, headers=auth).status_code == 204
    assert len(rows(runtime.engine)) == 1
    changed = dict(RECORD, hs_feedback_last_nps_rating="9")
    assert webhook_client.post(PATH, json=changed, headers=auth).status_code == 204
    assert len(rows(runtime.engine)) == 2


def test_missing_object_id_or_bad_name_is_400(webhook_client, runtime):
    auth = {"X-Connector-Key": "workflow-key"}
    assert webhook_client.post(PATH, json={"email": "x"}, headers=auth).status_code == 400
    assert webhook_client.post(PATH, json=[1], headers=auth).status_code == 400
    assert webhook_client.post("/webhooks/workflow/a%20b", json=RECORD, headers=auth
                               ).status_code == 400
    assert rows(runtime.engine) == []


def test_backlog_over_the_threshold_sheds_with_retry_after_ms(webhook_app, runtime):
    webhook_app.config["INBOX_SHED_BACKLOG"] = 1
    client = webhook_app.test_client()
    auth = {"X-Connector-Key": "workflow-key"}
    for object_id in ("1", "2"):
        assert client.post(PATH, json={"hs_object_id": object_id}, headers=auth
                           ).status_code == 204
    response = client.post(PATH, json={"hs_object_id": "3"}, headers=auth)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1000  # milliseconds, as HubSpot reads it
    with Session(runtime.engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 2
