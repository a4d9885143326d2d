"""Property-based: whatever a client sends to any route of the web app or the sandbox, the
answer is never a 5xx while the database and HubSpot are up; where the sandbox plays HubSpot,
a refusal carries HubSpot's error body.

Routes come from the apps' own URL maps, so a route added later is covered. Requests to
HubSpot-facing routes are signed with the app's secret (so they get past the signature check
and reach the parsing), dashboard requests carry the bearer token (so the actions run), and
sandbox requests the access token. Bounded: a few hundred examples per app, no deadline.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fixtures_report import seed_program
from fixtures_sync import SyncSetup
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from connector.sandbox.server import SandboxConfig, create_sandbox_app
from connector.web.app import create_app
from connector.web.signatures import sign_v3

SECRET, PUBLIC = "test-secret", "http://connector.test"  # the `settings` fixture's
DASHBOARD_TOKEN = "dashboard-token"
SANDBOX_TOKEN = "sandbox-token"
APP_SAFE = "/!$&'()*+,:;=@%~"  # what web.inbound.public_url leaves unquoted in a path

# -- what a hostile client sends -------------------------------------------------------------

awkward_text = st.sampled_from([
    "", " ", "0", "1", "-1", "12", "²", "１２３", "12\n", "\x00", "a\x00b", "9999-12-31",
    "0001-01-01", "2026-02-30", "99999999999999999999999", "9223372036854775808", "1e309",
    "NaN", "Infinity", "null", "true", "[]", "{}", "../..", "%00", "%", "é", "\u202e", "\ufeff",
    "contact.creation", "contact.privacyDeletion", "object.propertyChange", "0-1", "CONTACT",
    "email", "hs_object_id", "closedwon", "check-readiness", "invite",
])
plain_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
texts = awkward_text | plain_text
json_scalars = (st.none() | st.booleans() | texts
                | st.text(max_size=8)  # lone surrogates included: JSON escapes carry them
                | st.integers(min_value=-(10**30), max_value=10**30)
                | st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
HUBSPOT_FIELDS = ["eventId", "subscriptionId", "portalId", "appId", "occurredAt",
                  "subscriptionType", "eventType", "attemptNumber", "objectId", "propertyName",
                  "propertyValue", "changeSource", "changeFlag", "primaryObjectId",
                  "mergedObjectIds", "newObjectId", "objectTypeId", "sourceId"]
webhook_event = st.dictionaries(st.sampled_from(HUBSPOT_FIELDS) | texts, json_values,
                                max_size=10)
action_body = st.fixed_dictionaries(
    {}, optional={"callbackId": texts | json_scalars, "origin": json_values,
                  "object": st.fixed_dictionaries({}, optional={
                      "objectId": json_scalars, "objectType": texts}) | json_values,
                  "inputFields": json_values})
workflow_body = st.fixed_dictionaries({}, optional={
    "properties": st.dictionaries(texts, json_values, max_size=4)
    | st.fixed_dictionaries({"hs_object_id": json_scalars}),
    "objectId": json_scalars, "vid": json_scalars, "id": json_scalars})
hubspot_input = st.fixed_dictionaries({}, optional={
    "id": json_scalars, "idProperty": json_scalars,
    "properties": st.dictionaries(texts, json_scalars, max_size=4) | json_values,
    "associations": json_values, "after": json_scalars})
hubspot_body = st.fixed_dictionaries({}, optional={
    "inputs": st.lists(hubspot_input | json_values, max_size=4) | json_values,
    "properties": st.lists(texts, max_size=4) | json_values,
    "propertiesWithHistory": json_values, "idProperty": json_scalars,
    "filterGroups": st.lists(st.fixed_dictionaries({"filters": st.lists(
        st.fixed_dictionaries({"propertyName": texts, "operator": texts | json_scalars},
                              optional={"value": json_scalars, "values": json_values,
                                        "highValue": json_scalars}), max_size=3)}),
        max_size=3) | json_values,
    "sorts": json_values, "query": json_scalars, "limit": json_scalars, "after": json_scalars,
    "objectId": json_scalars, "primaryObjectId": json_scalars,
    "objectIdToMerge": json_scalars, "name": json_scalars, "label": json_scalars,
    "type": json_scalars, "fieldType": json_scalars, "groupName": json_scalars,
    "options": json_values, "displayOrder": json_scalars, "hasUniqueValue": json_scalars,
    "contacts": json_values, "deals": json_values, "into": json_scalars})


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN and lone surrogates as JSON's escapes carry them


bodies = st.one_of(
    st.lists(webhook_event, max_size=4).map(encoded), action_body.map(encoded),
    workflow_body.map(encoded), hubspot_body.map(encoded), json_values.map(encoded),
    st.binary(max_size=64), st.just(b"[" * 100_000 + b"]" * 100_000),
    st.lists(webhook_event, min_size=1, max_size=2).map(
        lambda v: b"\xef\xbb\xbf" + encoded(v)),
)


def path_values(rule: Rule) -> st.SearchStrategy[dict[str, str]]:
    """Values for the rule's variables: numbers of every size for int converters, any text
    (and numbers) for the others."""
    strategies = {}
    for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug's own map
        numbers = st.integers(min_value=0, max_value=10**25).map(str)
        strategies[name] = numbers if type(converter).__name__ == "IntegerConverter" \
            else numbers | texts.filter(lambda t: t and "/" not in t)
    return st.fixed_dictionaries(strategies)


def build_path(rule: Rule, values: dict[str, str]) -> str:
    """The decoded path of a rule with its variables filled in."""
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^<>:]*:)?{re.escape(name)}>", lambda _, v=value: v, path)
    return path


def requests_for(app: Flask) -> st.SearchStrategy[tuple[str, str, dict[str, str], bytes]]:
    """(method, decoded path, query parameters, body) for any route of the app."""
    choices = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        choices.append(st.tuples(st.sampled_from(methods), path_values(rule).map(
            lambda values, rule=rule: build_path(rule, values))))
    query = st.dictionaries(st.sampled_from(["since", "until", "limit", "after", "archived",
                                             "properties", "idProperty", "expired", "key",
                                             "portalId", "userId"]) | plain_text, texts,
                            max_size=3)
    return st.tuples(st.one_of(choices), query, bodies).map(
        lambda t: (t[0][0], t[0][1], t[1], t[2]))


def send(client: Any, method: str, path: str, query: dict[str, str], body: bytes,
         headers: dict[str, str], form: bool = False) -> Any:
    qs = urlencode(query)
    target = quote(path, safe="/") + (f"?{qs}" if qs else "")
    kwargs: dict[str, Any] = {"headers": headers}
    if method not in ("GET", "DELETE"):
        if form:
            kwargs["data"] = {"reason": body.decode("utf-8", "replace"),
                              "reference": body.decode("latin-1"), "token": "guess"}
        else:
            kwargs["data"] = body
            kwargs["content_type"] = "application/json"
    return client.open(target, method=method, **kwargs)


# -- the web app -----------------------------------------------------------------------------


@pytest.fixture
def web_app(sync_setup: SyncSetup) -> Flask:
    """The web app on a seeded program, its HubSpot a sandbox (so actions reach one)."""
    _, runtime = sync_setup()
    with Session(runtime.engine) as session, session.begin():
        seed_program(session)
    return create_app(runtime=runtime)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_request_makes_the_web_app_answer_5xx(web_app: Flask, data: st.DataObject) -> None:
    method, path, query, body = data.draw(requests_for(web_app))
    headers: dict[str, str] = {}
    form = False
    if path.startswith(("/webhooks/", "/app/")):
        qs = urlencode(query)
        signed = PUBLIC + quote(path, safe=APP_SAFE) + (f"?{qs}" if qs else "")
        ts = int(time.time() * 1000)
        signed_body = b"" if method == "GET" else body
        headers = {"X-HubSpot-Signature-v3": sign_v3(SECRET, method, signed, signed_body, ts),
                   "X-HubSpot-Request-Timestamp": str(ts)}
    elif path.startswith("/dashboard"):
        token = data.draw(st.sampled_from([DASHBOARD_TOKEN] * 4 + ["guess"]))
        headers = {"Authorization": f"Bearer {token}"}
        form = data.draw(st.booleans())
    response = send(web_app.test_client(), method, path, query, body, headers, form)
    if path == "/readyz":  # 503 there says "no recent sync" to a load balancer, by design
        return
    assert response.status_code < 500, (method, path, query, body[:200], response.text[:300])


# -- the sandbox -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_app() -> Flask:
    return create_sandbox_app(SandboxConfig(contacts=30, rate_limit_per_10s=10**9,
                                            search_rate_per_s=10**9, daily_limit=10**12))


# control endpoints that make the sandbox fail on purpose (fault injection) are left out
NOT_FUZZED = ("/_sandbox/faults",)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_no_request_makes_the_sandbox_answer_5xx(sandbox_app: Flask,
                                                 data: st.DataObject) -> None:
    method, path, query, body = data.draw(requests_for(sandbox_app))
    if path.startswith(NOT_FUZZED):
        return
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    response = send(sandbox_app.test_client(), method, path, query, body, headers)
    assert response.status_code < 500, (method, path, query, body[:200], response.text[:300])
    plays_hubspot = not path.startswith(("/_sandbox", "/api/v2"))  # not the gift-card API
    if plays_hubspot and response.status_code >= 400:
        answer = response.get_json(silent=True)
        assert isinstance(answer, dict) and answer.get("status") == "error", response.text
        assert {"message", "correlationId"} <= set(answer), answer
