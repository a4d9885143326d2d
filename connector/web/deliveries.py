"""HubSpot deliveries read: webhook events and workflow actions parsed, checked and keyed."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from connector.queue.inbox import NewEvent

MAX_EVENTS_PER_DELIVERY = 1000  # HubSpot sends at most 100; more is not HubSpot
WORKFLOW_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # fullmatch: `$` passes a final newline
# fields of a HubSpot event worth keeping; propertyValue is left out on purpose: it may be
# an email, and the worker re-reads the contact from HubSpot instead of trusting it
_KEPT_FIELDS = frozenset((
    "eventId", "subscriptionId", "portalId", "appId", "occurredAt", "subscriptionType",
    "eventType", "attemptNumber", "objectId", "propertyName", "changeSource", "changeFlag",
    "primaryObjectId", "mergedObjectIds", "newObjectId", "numberOfPropertiesMoved",
    "objectTypeId", "sourceId",
))
_KEPT_OR_VALUE = _KEPT_FIELDS | {"propertyValue"}
# developer-platform apps subscribe generically (`object.creation`, `object.propertyChange`,
# `object.deletion`, `object.merge`, ...) and name the object in `objectTypeId`
# (developers.hubspot.com/changelog/public-beta-generic-webhook-subscriptions): they are
# stored as the legacy `contact.*` / `deal.*` events they mean, and handled exactly alike.
# The docs list no generic privacy deletion (it stays `contact.privacyDeletion`, a hub
# event); an `object.privacyDeletion` on contacts is read the same way should one come.
GENERIC_OBJECTS = {"0-1": "contact", "0-3": "deal"}


class BadEvents(ValueError):
    """The body is not a well-formed delivery; the message says what is wrong."""


def _id(value: Any, field: str, required: bool = True) -> str | None:
    """An object or event id as a string of digits (HubSpot sends numbers, sometimes strings)."""
    if type(value) is int and 0 <= value < 10**30:  # the common case, checked cheaply
        return str(value)
    if value is None and not required:
        return None
    text = value.strip() if isinstance(value, str) else ""
    # ASCII digits only: str.isdigit() also takes "²" and "１２３", which no HubSpot id is
    if not (text.isascii() and text.isdigit()) or len(text) > 30:
        raise BadEvents(f"{field} must be a number")
    return text


def _storable(value: Any, field: str, depth: int = 0) -> None:
    """BadEvents when a kept value cannot be stored as text: a NUL (PostgreSQL refuses it in
    text and JSON) or a lone surrogate (not UTF-8), or nesting HubSpot's events never have."""
    if isinstance(value, str):
        if "\x00" in value or (not value.isascii() and not _utf8(value)):
            raise BadEvents(f"{field} holds a NUL or a lone surrogate")
    elif isinstance(value, list | dict):
        if depth >= 2:
            raise BadEvents(f"{field} is nested too deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _storable(key, field, depth + 1)
            _storable(item, field, depth + 1)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def hubspot_event_key(event: dict[str, Any]) -> str:
    """What makes a HubSpot event unique, independent of its delivery attempt.

    HubSpot documents eventId as "not guaranteed to be unique" and a retry as the same event
    with a higher attemptNumber (https://developers.hubspot.com/docs/api/webhooks), so the key
    is the portal, subscription, event id, occurrence time and object: everything but the
    attempt number.
    """
    get = event.get
    key = (f"hs:{get('portalId', '')}:{get('subscriptionId', '')}:{get('eventId', '')}:"
           f"{get('occurredAt', '')}:{get('objectId', '')}:{get('propertyName', '')}")
    if len(key) > 200:
        key = "hs:sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def load_json(body: bytes, exact: bool = False) -> Any:
    """The body parsed, by orjson (three times faster) or, when `exact`, by the standard json.

    orjson rejects what json accepts (NaN, Infinity, lone surrogates), so those bodies go to
    json too; it reads integers beyond 64 bits as floats, which the callers' id checks refuse,
    and they then ask again with `exact`. A body nested deeper than either reads is BadEvents.
    """
    if not exact:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        # HubSpot sends UTF-8 JSON: decoded strictly first, so neither UTF-16 nor a UTF-8 BOM
        # (which json.loads would guess and accept from bytes) is read
        return json.loads(body.decode("utf-8"))
    except RecursionError:
        raise BadEvents("body is nested too deep") from None
    except ValueError:  # UnicodeDecodeError is one
        raise BadEvents("body is not UTF-8 JSON") from None


def parse_hubspot_events(body: bytes) -> list[NewEvent]:
    """The events of an app-webhook delivery (a JSON array), or BadEvents."""
    try:
        return _hubspot_events(load_json(body))
    except BadEvents:
        # the standard json's reading decides: an id beyond 64 bits is not lost to a float
        return _hubspot_events(load_json(body, exact=True))


def _hubspot_events(events: Any) -> list[NewEvent]:
    """The parsed delivery checked and keyed (duplicates within it dropped), or BadEvents."""
    if not isinstance(events, list):
        raise BadEvents("body is not a JSON array of events")
    if len(events) > MAX_EVENTS_PER_DELIVERY:
        raise BadEvents(f"more than {MAX_EVENTS_PER_DELIVERY} events in one delivery")
    parsed: dict[str, NewEvent] = {}
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadEvents(f"event {index} is not an object")
        kind = event.get("subscriptionType", event.get("eventType"))
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            raise BadEvents(f"event {index} has no subscriptionType")
        if kind.startswith("object."):
            kind = legacy_kind(kind, event.get("objectTypeId"))
        event_id = _id(event.get("eventId"), f"event {index} eventId")
        object_id = _id(event.get("objectId"), f"event {index} objectId", required=False)
        occurred = event.get("occurredAt")
        occurred_at = occurred_ms = None
        if type(occurred) is int and 0 < occurred < 10**14:
            occurred_ms = occurred
            occurred_at = datetime.fromtimestamp(occurred / 1000, UTC)
        key = hubspot_event_key(event)
        if event.keys() <= _KEPT_OR_VALUE:  # HubSpot's usual fields: the parsed dict will do
            payload = event
            payload.pop("propertyValue", None)
        else:
            payload = {k: v for k, v in event.items() if k in _KEPT_FIELDS}
        for name, value in payload.items():  # the key is made of these too
            kind_of = type(value)
            if kind_of is int or (kind_of is str and value.isascii() and "\x00" not in value):
                continue  # HubSpot's usual values, checked inline: this runs per field
            _storable(value, f"event {index} {name}")
        payload["subscriptionType"] = kind
        if key not in parsed:
            parsed[key] = NewEvent(key, event_id, "hubspot", kind, object_id, occurred_at,
                                   payload, occurred_ms)
    return list(parsed.values())


def legacy_kind(kind: str, object_type_id: Any) -> str:
    """`object.propertyChange` of objectTypeId 0-1 -> `contact.propertyChange`; other objects
    keep their generic name (the worker ignores them)."""
    name = GENERIC_OBJECTS.get(str(object_type_id)) if object_type_id is not None else None
    return f"{name}.{kind[len('object.'):]}" if name else kind


def parse_workflow_event(name: str, body: bytes) -> NewEvent:
    """A workflow "Send a webhook" action: the record's properties as a JSON object."""
    try:
        return _workflow_event(name, body, load_json(body))
    except BadEvents:
        return _workflow_event(name, body, load_json(body, exact=True))


def _workflow_event(name: str, body: bytes, record: Any) -> NewEvent:
    """The parsed workflow record as an inbox event, or BadEvents."""
    if not isinstance(record, dict):
        raise BadEvents("body is not a JSON object of properties")
    # "the exact same data you'd get when pulling that object using the relevant object API"
    # (https://developers.hubspot.com/docs/methods/workflows/webhook_information): flat
    # properties, or nested under "properties", legacy-style as {"value": ...}; or objectId/vid
    nested = record.get("properties")
    properties: dict[str, Any] = nested if isinstance(nested, dict) else record
    raw_id = properties.get("hs_object_id")
    if isinstance(raw_id, dict):
        raw_id = raw_id.get("value")
    if raw_id is None:
        raw_id = record.get("objectId", record.get("vid", record.get("id")))
    object_id = _id(raw_id, "hs_object_id")
    # the same record sent twice by the same action is one milestone; a changed record is new
    digest = hashlib.sha256(body).hexdigest()[:32]
    # only the id is kept: the properties may carry an email, and the worker re-reads the contact
    return NewEvent(f"wf:{name}:{object_id}:{digest}", None, "workflow", f"workflow.{name}",
                    object_id, None, {"workflow": name, "hs_object_id": object_id})
