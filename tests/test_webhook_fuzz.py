"""Fuzzing the receiver: no 5xx while the database is up, and nothing unsigned is ever stored."""

from __future__ import annotations

import json

from fixtures_webhooks import HubSpotSigner, contact_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.db.models import InboxEvent
from connector.web.app import create_app

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {"eventId": st.integers(0, 10**12) | st.text(max_size=5),
     "objectId": st.integers(0, 10**12) | st.text(max_size=5) | st.none(),
     "subscriptionType": st.sampled_from(["contact.creation", "contact.merge", ""])
     | st.integers()},
    optional={"occurredAt": json_values, "portalId": json_values,
              "mergedObjectIds": json_values, "propertyValue": json_values},
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(event_like, max_size=5).map(lambda v: json.dumps(v).encode()),
)
header_names = st.sampled_from([
    "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-HubSpot-Signature",
    "X-HubSpot-Signature-Version", "Content-Type", "X-Connector-Key",
])
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def stored(engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=bodies, headers=st.dictionaries(header_names, header_values, max_size=5),
       path=st.sampled_from(["/webhooks/hubspot", "/webhooks/workflow/milestone"]))
def test_unsigned_requests_never_store_and_never_5xx(runtime, body, headers, path):
    client = create_app(runtime=runtime).test_client()
    response = client.post(path, data=body, headers=headers)
    assert response.status_code < 500
    assert response.status_code in (400, 401, 413)
    assert stored(runtime.engine) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_signed_random_bodies_never_5xx(runtime, body):
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "http://connector.test")
    response = signer.post(client, body)
    assert response.status_code in (204, 400)


def test_fuzz_baseline_a_valid_batch_is_stored(runtime):
    client = create_app(runtime=runtime).test_client()
    signer = HubSpotSigner("test-secret", "http://connector.test")
    assert signer.post(client, [contact_event(1)]).status_code == 204
    assert stored(runtime.engine) == 1
