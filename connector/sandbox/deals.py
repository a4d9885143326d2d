"""The portal's deals and their contact associations, held in memory under the portal's lock.

Deal records follow HubSpot's CRM objects API v3 (every value a string, `hs_object_id`,
`createdate`, `hs_lastmodifieddate`); associations follow the v4 associations API, where a
deal-to-contact association is one default (HUBSPOT_DEFINED, type id 3) link seen from both
sides (https://developers.hubspot.com/docs/api/crm/associations/v4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.sandbox.errors import not_found, validation
from connector.sandbox.values import as_string, iso_ms, now_ms, parse_time_ms

if TYPE_CHECKING:
    from connector.sandbox.portal import Portal

DEAL_PROPERTIES = ("dealname", "amount", "dealstage", "pipeline", "closedate")
READ_ONLY = ("hs_object_id", "createdate", "hs_lastmodifieddate")
# HubSpot's default sales pipeline ("default") and its stage ids
DEFAULT_PIPELINE = "default"
STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
          "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")
CLOSED_STAGES = ("closedwon", "closedlost")
# the default association types between deals and contacts (v4 "associationTypeId")
DEAL_TO_CONTACT = 3
CONTACT_TO_DEAL = 4
# deal webhook subscriptions: one for creation, one per subscribed property
SUBSCRIBED_DEAL_PROPERTIES = ("dealstage", "amount")
_SUBSCRIPTION_IDS = {"deal.creation": 301, "deal.deletion": 302, "deal.propertyChange": 310}


@dataclass(frozen=True, slots=True)
class Deal:
    """One stored state of a deal; `properties` is never mutated after creation."""

    id: int
    properties: dict[str, str]
    created_ms: int
    updated_ms: int

    def to_json(self, names: Iterable[str] | None) -> dict[str, Any]:
        """HubSpot's SimplePublicObject shape, with the requested properties (null if unset)."""
        wanted = ("dealname", "amount", "dealstage", "pipeline", "closedate") \
            if names is None else names
        props: dict[str, str | None] = {n: self.properties.get(n) for n in wanted}
        for always in READ_ONLY:
            props[always] = self.properties.get(always)
        return {"id": str(self.id), "properties": props, "createdAt": iso_ms(self.created_ms),
                "updatedAt": iso_ms(self.updated_ms), "archived": False}


class DealStore:
    """Deals and deal-contact associations of one portal; callers hold `portal.lock`."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.deals: dict[int, Deal] = {}
        self.contacts_of: dict[int, set[int]] = {}
        # HubSpot's deal ids come from their own sequence, apart from contact ids
        self._next_id = 9_000_001

    def get(self, deal_id: int | str) -> Deal | None:
        """A deal by id; None when unknown."""
        with self.portal.lock:
            text = str(deal_id)
            return self.deals.get(int(text)) if text.isascii() and text.isdigit() else None

    def create(self, values: Mapping[str, Any], source: str = "INTEGRATION") -> Deal:
        """Create a deal as the API does; emits deal.creation."""
        with self.portal.lock:
            props = _validated(values)
            props.setdefault("pipeline", DEFAULT_PIPELINE)
            if not props.get("dealstage"):
                raise validation("Property values were not valid: dealstage is required",
                                 errors=[{"message": "dealstage is required",
                                          "code": "REQUIRED_FIELD"}])
            ms = now_ms()
            _stamp_close(props, {}, ms)
            deal_id = self._next_id
            self._next_id += 1
            deal = self._store(deal_id, props, ms, ms)
            self.portal.emit_object_event("deal.creation", deal_id, source,
                                          _SUBSCRIPTION_IDS["deal.creation"],
                                          changeFlag="CREATED")
            return deal

    def update(self, deal_id: int | str, values: Mapping[str, Any],
               source: str = "INTEGRATION") -> Deal:
        """Update a deal; a real change moves hs_lastmodifieddate and emits propertyChange."""
        with self.portal.lock:
            current = self.get(deal_id)
            if current is None:
                raise not_found()
            props = _validated(values, allow_clear=True)
            changed = {k: v for k, v in props.items() if current.properties.get(k) != v}
            if not changed:
                return current  # docs are silent; equal values are treated as no change
            merged = {k: v for k, v in {**current.properties, **changed}.items() if v is not None}
            ms = max(now_ms(), current.updated_ms + 1)
            if _stamp_close(merged, current.properties, ms):
                changed["closedate"] = merged["closedate"]
            deal = self._store(current.id, merged, current.created_ms, ms)
            for name in SUBSCRIBED_DEAL_PROPERTIES:
                if name in changed:
                    self.portal.emit_object_event(
                        "deal.propertyChange", current.id, source,
                        _SUBSCRIPTION_IDS["deal.propertyChange"]
                        + SUBSCRIBED_DEAL_PROPERTIES.index(name),
                        propertyName=name, propertyValue=changed[name] or "")
            return deal

    def associate(self, deal_id: int | str, contact_id: int | str) -> None:
        """Link a deal and a contact with the default association (idempotent)."""
        with self.portal.lock:
            deal = self.get(deal_id)
            contact = self.portal.get_contact(contact_id)
            if deal is None or contact is None:
                raise not_found(f"No {'deal' if deal is None else 'contact'} with id "
                                f"{deal_id if deal is None else contact_id}")
            self.contacts_of.setdefault(deal.id, set()).add(contact.id)

    def contact_ids(self, deal_id: int) -> list[int]:
        """The live contacts associated with a deal, in id order (merged ids followed)."""
        with self.portal.lock:
            found = {self.portal.merged_into.get(c, c) for c in self.contacts_of.get(deal_id, ())}
            return sorted(c for c in found if self.portal.get_contact(c) is not None)

    def deal_ids(self, contact_id: int) -> list[int]:
        """The deals associated with a contact, in id order."""
        with self.portal.lock:
            return sorted(d for d in self.contacts_of if contact_id in self.contact_ids(d))

    def _store(self, deal_id: int, props: dict[str, Any], created: int, updated: int) -> Deal:
        props["hs_object_id"] = str(deal_id)
        props["createdate"] = iso_ms(created)
        props["hs_lastmodifieddate"] = iso_ms(updated)
        deal = Deal(deal_id, props, created, updated)
        self.deals[deal_id] = deal
        return deal


def _validated(values: Mapping[str, Any], allow_clear: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, raw in values.items():
        if name in READ_ONLY:
            raise validation(f"{name} is a read only property; its value cannot be set.",
                             errors=[{"message": f"{name} is read only",
                                      "code": "READ_ONLY_VALUE"}])
        if name not in DEAL_PROPERTIES:
            raise validation(f'Property values were not valid: Property "{name}" does not exist',
                             errors=[{"message": f'Property "{name}" does not exist',
                                      "code": "PROPERTY_DOESNT_EXIST",
                                      "context": {"propertyName": [name]}}])
        text = as_string(raw)
        if text is None:
            if allow_clear:
                props[name] = None
            continue
        props[name] = _normalised(name, text)
    return props


def _normalised(name: str, text: str) -> str:
    if name == "dealstage" and text not in STAGES:
        raise validation(f"Property values were not valid: {text} is not a valid dealstage of "
                         f"pipeline {DEFAULT_PIPELINE}",
                         errors=[{"message": f"{text} is not a valid dealstage",
                                  "code": "INVALID_OPTION",
                                  "context": {"propertyName": ["dealstage"]}}])
    if name == "pipeline" and text != DEFAULT_PIPELINE:
        raise validation(f"Property values were not valid: {text} is not a valid pipeline")
    if name == "amount":
        try:
            float(text)
        except ValueError:
            raise validation(f"Property values were not valid: {text} is not a valid number",
                             errors=[{"message": f"{text} was not a valid number",
                                      "code": "INVALID_DOUBLE"}]) from None
    if name == "closedate":
        ms = parse_time_ms(text)
        if ms is None:
            raise validation(f"Property values were not valid: {text} is not a valid datetime")
        return iso_ms(ms)
    return text


def _stamp_close(props: dict[str, Any], before: Mapping[str, Any], ms: int) -> bool:
    """Set `closedate` when a deal enters a closed stage without one; True when it was set.

    HubSpot's knowledge base ("Deal properties": Close date) says the close date is set to the
    day the deal is marked closed won or lost when it is empty; the sandbox stamps the instant.
    """
    entering = props.get("dealstage") in CLOSED_STAGES and \
        before.get("dealstage") != props.get("dealstage")
    if entering and not props.get("closedate"):
        props["closedate"] = iso_ms(ms)
        return True
    return False

