"""The in-memory HubSpot portal: contacts, properties, search view, events, enrollments.

Every public method takes the portal's lock, so the threaded server and tests may call
them at once. A contact version is never mutated: a write stores a new one, which lets the
search view keep older versions during the index lag without copying.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.sandbox import catalog
from connector.sandbox.deals import DealStore
from connector.sandbox.errors import HubSpotError, not_found, validation
from connector.sandbox.flows import Flows
from connector.sandbox.search_index import SearchIndex
from connector.sandbox.values import as_string, iso_ms, now_ms, parse_time_ms

EventSink = Callable[[dict[str, Any]], None]

DEFAULT_SUBSCRIBED = [
    "lifecyclestage", "hs_feedback_last_nps_rating", "hs_feedback_last_survey_date",
    "product_logins_30d", "success_milestones_reached", "social_mentions_90d",
    "open_support_escalations", "support_csat_score", "hs_email_optout", "referred_by_code",
]
# Fixed subscription ids, one per subscription as an app's webhook settings would have
_SUBSCRIPTION_IDS = {"contact.creation": 101, "contact.deletion": 102, "contact.merge": 103,
                     "contact.privacyDeletion": 104, "contact.propertyChange": 200}


@dataclass(frozen=True, slots=True)
class ContactVersion:
    """One stored state of a contact; `properties` is never mutated after creation."""

    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False

    def to_json(self, names: Iterable[str] | None) -> dict[str, Any]:
        """HubSpot's SimplePublicObject shape, with the requested properties (null if unset)."""
        wanted = catalog.DEFAULT_PROPERTIES if names is None else names
        props: dict[str, str | None] = {n: self.properties.get(n) for n in wanted}
        for always in ("hs_object_id", "createdate", "lastmodifieddate"):
            props[always] = self.properties.get(always)
        return {"id": str(self.id), "properties": props, "createdAt": iso_ms(self.created_ms),
                "updatedAt": iso_ms(self.updated_ms), "archived": self.archived}


@dataclass
class PortalOptions:
    """What the portal needs from the sandbox config."""

    portal_id: int = 62515
    app_id: int = 1160452
    search_lag_s: float = 0.0
    subscribed_properties: list[str] = field(default_factory=lambda: list(DEFAULT_SUBSCRIBED))


class Portal:
    """A HubSpot portal's contacts and settings, held in memory behind one lock."""

    def __init__(self, options: PortalOptions | None = None,
                 event_sink: EventSink | None = None) -> None:
        self.options = options or PortalOptions()
        self.lock = threading.RLock()
        self.event_sink = event_sink
        self.properties = catalog.initial_properties()
        self.groups = {name: {"name": name, "label": label, "displayOrder": i,
                              "archived": False}
                       for i, (name, label) in enumerate(catalog.STANDARD_GROUPS.items())}
        self.contacts: dict[int, ContactVersion] = {}
        self.merged_into: dict[int, int] = {}
        self.flows = Flows()
        self._unique: dict[str, dict[str, int]] = {"email": {}}
        self.search_index = SearchIndex()  # read it under `lock`, after `searchable()`
        self._pending: deque[tuple[float, int, ContactVersion | None]] = deque()
        self._next_id = 1
        self._event_ids = itertools.count(1_000_001)
        self.deals = DealStore(self)

    # ---- reads -------------------------------------------------------------------------

    def get_contact(self, contact_id: int | str, *, archived: bool = False
                    ) -> ContactVersion | None:
        """A contact by id (a merged-away id answers with the contact it merged into)."""
        with self.lock:
            cid = _to_int(contact_id)
            if cid is None:
                return None
            cid = self.merged_into.get(cid, cid)
            found = self.contacts.get(cid)
            if found is None or found.archived != archived:
                return None
            return found

    def find_by(self, prop: str, value: str) -> ContactVersion | None:
        """A live contact by a unique property value (email compared in lower case)."""
        with self.lock:
            if prop == "hs_object_id":
                return self.get_contact(value)
            key = value.strip().lower() if prop == "email" else value
            cid = self._unique.get(prop, {}).get(key)
            return self.contacts.get(cid) if cid is not None else None

    def live_contacts(self) -> list[ContactVersion]:
        """Every non-archived contact, in id order (for list paging)."""
        with self.lock:
            return [c for c in self.contacts.values() if not c.archived]

    def search_view(self) -> tuple[int, list[ContactVersion]]:
        """(version, contacts) as the search index sees them, after the lag has passed."""
        with self.lock:
            index = self.searchable()
            return index.version, index.contacts()

    def searchable(self) -> SearchIndex:
        """The search index with every change past its lag applied; hold `lock` to read it."""
        with self.lock:
            self._apply_due()
            return self.search_index

    # ---- writes ------------------------------------------------------------------------

    def create_contact(self, values: Mapping[str, Any], source: str = "INTEGRATION"
                       ) -> ContactVersion:
        """Create a contact as the API does; emits contact.creation."""
        with self.lock:
            props = self._validated(values)
            if props.get("email") and props["email"] in self._unique["email"]:
                existing = self._unique["email"][props["email"]]
                raise HubSpotError(409, "CONFLICT",
                                   f"Contact already exists. Existing ID: {existing}")
            self._check_unique(props, None)
            cid = self._next_id
            self._next_id += 1
            ms = self._tick(None)
            created = _parse_or(props.pop("createdate", None), ms)
            version = self._store(cid, props, created, ms)
            self._emit("contact.creation", cid, source)
            self.flows.on_change(version, {}, _now_ms=ms)
            return version

    def update_contact(self, contact_id: int | str, values: Mapping[str, Any],
                       source: str = "CRM_UI") -> ContactVersion:
        """Update a contact; a real change moves lastmodifieddate and emits propertyChange.

        `source` is HubSpot's `changeSource`: "CRM_UI" for a user, "INTEGRATION" for an app.
        """
        with self.lock:
            current = self.get_contact(contact_id)
            if current is None:
                raise not_found()
            props = self._validated(values, allow_clear=True)
            changed = {k: v for k, v in props.items() if current.properties.get(k) != v}
            if not changed:
                # Docs are silent; a write of equal values is treated as no change at all
                return current
            self._check_unique(changed, current.id)
            merged = {**current.properties, **changed}
            merged = {k: v for k, v in merged.items() if v is not None}
            version = self._store(current.id, merged, current.created_ms,
                                  self._tick(current))
            for name, value in changed.items():
                if name in self.options.subscribed_properties:
                    self._emit("contact.propertyChange", current.id, source,
                               propertyName=name, propertyValue=value or "")
            self.flows.on_change(version, current.properties, _now_ms=version.updated_ms)
            return version

    def archive_contact(self, contact_id: int | str, source: str = "INTEGRATION") -> None:
        """Archive (DELETE) a contact; emits contact.deletion."""
        with self.lock:
            current = self.get_contact(contact_id)
            if current is None:
                raise not_found()
            self._unindex(current)
            self.contacts[current.id] = ContactVersion(
                current.id, current.properties, current.created_ms, self._tick(current), True)
            self._schedule(current.id, None)
            self._emit("contact.deletion", current.id, source, changeFlag="DELETED")

    def gdpr_delete(self, contact_id: int | str, source: str = "INTEGRATION") -> None:
        """Permanently delete a contact; emits contact.privacyDeletion."""
        with self.lock:
            current = self.get_contact(contact_id)
            if current is None:
                raise not_found()
            self._unindex(current)
            del self.contacts[current.id]
            self._schedule(current.id, None)
            self._emit("contact.privacyDeletion", current.id, source)

    def merge(self, primary_id: int | str, merged_id: int | str, source: str = "CRM_UI"
              ) -> ContactVersion:
        """Merge `merged_id` into `primary_id`; emits contact.merge.

        The primary keeps its id and wins on conflicting values; empty ones are filled from
        the merged contact, whose email becomes an additional email.
        """
        with self.lock:
            primary, other = self.get_contact(primary_id), self.get_contact(merged_id)
            if primary is None or other is None:
                raise not_found()
            if primary.id == other.id:
                raise validation("A contact cannot be merged with itself")
            self._unindex(other)
            del self.contacts[other.id]
            self._schedule(other.id, None)
            self.merged_into[other.id] = primary.id
            for old, into in list(self.merged_into.items()):
                if into == other.id:
                    self.merged_into[old] = primary.id
            props = {**{k: v for k, v in other.properties.items()
                        if k not in ("email", "hs_object_id")}, **primary.properties}
            ids = [i for i in primary.properties.get("hs_merged_object_ids", "").split(";") if i]
            props["hs_merged_object_ids"] = ";".join([*ids, str(other.id)])
            if other.properties.get("email"):
                extra = [e for e in primary.properties.get("hs_additional_emails", "").split(";")
                         if e]
                props["hs_additional_emails"] = ";".join([*extra, other.properties["email"]])
            moved = sum(1 for k in other.properties if k not in primary.properties)
            self._unindex(primary)
            version = self._store(primary.id, props, primary.created_ms, self._tick(primary))
            self._emit("contact.merge", primary.id, source, primaryObjectId=primary.id,
                       mergedObjectIds=[other.id], newObjectId=primary.id,
                       numberOfPropertiesMoved=moved)
            return version

    def seed(self, rows: Iterable[Mapping[str, str]]) -> list[int]:
        """Add contacts without validation or events (malformed seed values stay malformed)."""
        ids: list[int] = []
        with self.lock:
            for row in rows:
                cid = self._next_id
                self._next_id += 1
                props = dict(row)
                created = _parse_or(props.get("createdate"), now_ms())
                updated = _parse_or(props.get("lastmodifieddate"), created)
                self._store(cid, props, created, updated)
                ids.append(cid)
        return ids

    # ---- properties --------------------------------------------------------------------

    def create_property(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a custom property; 409 when the name exists, 400 on a bad definition."""
        with self.lock:
            name = str(body.get("name", ""))
            if name in self.properties:
                raise HubSpotError(409, "OBJECT_ALREADY_EXISTS",
                                   f"Property named '{name}' already exists.",
                                   context={"name": [name]}, subCategory="Property.CONFLICT")
            catalog.check_new_property(dict(body))
            if body["groupName"] not in self.groups:
                raise validation(f"Property group '{body['groupName']}' does not exist")
            unique = bool(body.get("hasUniqueValue"))
            if unique and sum(p["hasUniqueValue"] for p in self.properties.values()
                              if not p["hubspotDefined"]) >= 10:
                raise validation("At most 10 properties per object may have unique values")
            definition = catalog.property_definition(
                name, body["label"], body["type"], body["fieldType"], body["groupName"],
                list(body.get("options") or []), unique,
                description=str(body.get("description", "")), created_at=iso_ms(now_ms()),
                display_order=int(body.get("displayOrder", -1)))
            self.properties[name] = definition
            if unique:
                self._unique[name] = {}
            return definition

    def update_property(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH a property's label, description, group or options (not its uniqueness)."""
        with self.lock:
            current = self.properties.get(name)
            if current is None:
                raise not_found(f"Unable to find property {name}")
            if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != current[
                    "hasUniqueValue"]:
                raise validation("hasUniqueValue cannot be changed after creation")
            updated = {**current}
            for key in ("label", "description", "groupName", "fieldType", "options",
                        "displayOrder", "hidden", "formField"):
                if key in body:
                    updated[key] = body[key]
            catalog.check_new_property(updated)
            updated["updatedAt"] = iso_ms(now_ms())
            self.properties[name] = updated
            return updated

    def validate(self, values: Mapping[str, Any]) -> None:
        """Raise the 400 HubSpot gives for unknown properties or invalid values."""
        with self.lock:
            self._validated(values, allow_clear=True)

    def enroll(self, workflow_id: str, email: str) -> None:
        """v2 enrollment by email: 404 for an unknown workflow or contact."""
        with self.lock:
            if self.flows.flow_for_legacy(workflow_id) is None:
                raise not_found(f"Workflow {workflow_id} not found")
            contact = self.find_by("email", email)
            if contact is None:
                raise not_found(f"Contact with email {email} not found")
            self.flows.enroll(workflow_id, contact, "api", now_ms())

    # ---- internals ---------------------------------------------------------------------

    def _validated(self, values: Mapping[str, Any], allow_clear: bool = False
                   ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name, raw in values.items():
            definition = self.properties.get(name)
            if definition is None:
                raise catalog.unknown_property(name)
            if name in catalog.READ_ONLY:
                raise validation(f"{name} is a read only property; its value cannot be set.",
                                 errors=[{"message": f"{name} is read only",
                                          "code": "READ_ONLY_VALUE"}])
            text = as_string(raw)
            if text is None:
                if allow_clear:
                    props[name] = None
                continue
            props[name] = catalog.normalise_value(definition, text)
        return props

    def _check_unique(self, props: Mapping[str, Any], own_id: int | None) -> None:
        for name, value in props.items():
            index = self._unique.get(name)
            if index is None or value is None:
                continue
            holder = index.get(value)
            if holder is not None and holder != own_id:
                if name == "email":
                    raise HubSpotError(409, "CONFLICT",
                                       f"Contact already exists. Existing ID: {holder}")
                # The docs do not show this body; a VALIDATION_ERROR naming the property
                raise validation(f"{value} already has that value on another record",
                                 errors=[{"message": f"{name} must be unique",
                                          "code": "INVALID_UNIQUE_VALUE",
                                          "context": {"propertyName": [name]}}])

    def _tick(self, current: ContactVersion | None) -> int:
        ms = now_ms()
        # lastmodifieddate moves on every change, even two changes within one millisecond
        return max(ms, current.updated_ms + 1) if current is not None else ms

    def _store(self, cid: int, props: dict[str, Any], created: int, updated: int
               ) -> ContactVersion:
        props["hs_object_id"] = str(cid)
        props["createdate"] = iso_ms(created)
        props["lastmodifieddate"] = iso_ms(updated)
        old = self.contacts.get(cid)
        if old is not None:
            self._unindex(old)
        version = ContactVersion(cid, props, created, updated)
        self.contacts[cid] = version
        for name, index in self._unique.items():
            value = props.get(name)
            if value is not None:
                index[value.lower() if name == "email" else value] = cid
        self._schedule(cid, version)
        return version

    def _unindex(self, version: ContactVersion) -> None:
        for name, index in self._unique.items():
            value = version.properties.get(name)
            if value is not None:
                key = value.lower() if name == "email" else value
                if index.get(key) == version.id:
                    del index[key]

    def _schedule(self, cid: int, version: ContactVersion | None) -> None:
        lag = self.options.search_lag_s
        if lag <= 0 and not self._pending:
            self._show(cid, version)
        else:
            self._pending.append((time.monotonic() + lag, cid, version))

    def _apply_due(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, cid, version = self._pending.popleft()
            self._show(cid, version)

    def _show(self, cid: int, version: ContactVersion | None) -> None:
        self.search_index.show(cid, version)

    def _emit(self, kind: str, object_id: int, source: str, **fields: Any) -> None:
        if self.event_sink is None:
            return
        event: dict[str, Any] = {
            "eventId": next(self._event_ids),
            "subscriptionId": _SUBSCRIPTION_IDS[kind] + (
                self.options.subscribed_properties.index(fields["propertyName"])
                if kind == "contact.propertyChange" else 0),
            "portalId": self.options.portal_id, "appId": self.options.app_id,
            "occurredAt": now_ms(), "subscriptionType": kind, "attemptNumber": 0,
            "objectId": object_id, "changeSource": source,
        }
        if kind == "contact.creation":
            event["changeFlag"] = "CREATED"
        if kind == "contact.merge":
            event["changeFlag"] = "MERGED"
        if source == "INTEGRATION":
            event["sourceId"] = str(self.options.app_id)
        event.update(fields)
        self.event_sink(event)

    def emit_object_event(self, kind: str, object_id: int, source: str, subscription_id: int,
                          **fields: Any) -> None:
        """Send a webhook event for another object type (deals), shaped like contact ones."""
        if self.event_sink is None:
            return
        event: dict[str, Any] = {
            "eventId": next(self._event_ids), "subscriptionId": subscription_id,
            "portalId": self.options.portal_id, "appId": self.options.app_id,
            "occurredAt": now_ms(), "subscriptionType": kind, "attemptNumber": 0,
            "objectId": object_id, "changeSource": source,
        }
        if source == "INTEGRATION":
            event["sourceId"] = str(self.options.app_id)
        event.update(fields)
        self.event_sink(event)


def _to_int(value: int | str) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if value.isascii() and value.isdigit() else None


def _parse_or(value: str | None, default: int) -> int:
    parsed = parse_time_ms(value) if value else None
    return parsed if parsed is not None else default
