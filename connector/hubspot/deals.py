"""Deals and their associated contacts, read through the gateway's limiter and retries.

Deals: `POST /crm/v3/objects/deals/batch/read` (100 per call). Associations: the v4 batch
read `POST /crm/v4/associations/{deals/contacts | contacts/deals}/batch/read`, whose answer
lists per object `to: [{toObjectId, associationTypes}]` and a `paging.next.after` only when
more remain (https://developers.hubspot.com/docs/api/crm/associations/v4). Needs the private
app scope `crm.objects.deals.read`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.hubspot.gateway import BATCH_SIZE, HubSpotGateway, read_json
from connector.hubspot.limiter import BURST
from connector.hubspot.retry import status_of

DEAL_PROPERTIES = ["dealname", "amount", "dealstage", "pipeline", "closedate"]


@dataclass(frozen=True)
class Deal:
    """A HubSpot deal as the API returns it: every property value a string or None."""

    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class DealReader:
    """Deal reads of one gateway; the SDK API objects are built once (each build is a pool)."""

    def __init__(self, gateway: HubSpotGateway) -> None:
        self.gateway = gateway
        client = gateway.apis.client
        self.timeout = gateway.apis.timeout
        self.deals_batch = client.crm.deals.batch_api
        self.associations_batch = client.crm.associations.v4.batch_api

    def read_deals(self, ids: Sequence[str], properties: Sequence[str] = DEAL_PROPERTIES
                   ) -> list[Deal]:
        """Batch read in 100s; ids HubSpot does not know are absent from the result."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        deals: list[Deal] = []
        for start in range(0, len(unique), BATCH_SIZE):
            deals.extend(self._read_batch(unique[start:start + BATCH_SIZE], properties))
        return deals

    def _read_batch(self, ids: list[str], properties: Sequence[str]) -> list[Deal]:
        body = {"inputs": [{"id": i} for i in ids], "properties": list(properties),
                "propertiesWithHistory": []}
        try:
            answer = self.gateway.call(
                "POST /crm/v3/objects/deals/batch/read", BURST,
                lambda: read_json(self.deals_batch.read_with_http_info(
                    body, archived=False, _preload_content=False,
                    _request_timeout=self.timeout)))
        except Exception as exc:
            if status_of(exc) == 404:  # none of the ids exist
                return []
            raise
        return [Deal(id=str(obj["id"]), properties=dict(obj.get("properties") or {}),
                     created_at=_timestamp(obj.get("createdAt")),
                     updated_at=_timestamp(obj.get("updatedAt")))
                for obj in answer.body.get("results") or []]

    def deal_contact_ids(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        """{deal id: associated contact ids}; a deal with none maps to an empty list."""
        return self._associated("deals", "contacts", deal_ids)

    def contact_deal_ids(self, contact_ids: Sequence[str]) -> dict[str, list[str]]:
        """{contact id: associated deal ids}; a contact with none maps to an empty list."""
        return self._associated("contacts", "deals", contact_ids)

    def _associated(self, from_type: str, to_type: str,
                    ids: Sequence[str]) -> dict[str, list[str]]:
        """{id: associated ids of `to_type`}, reading 100 inputs per call and every page."""
        found: dict[str, list[str]] = {str(i): [] for i in ids}
        pending = [{"id": i} for i in found]
        while pending:
            batch, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            pending.extend(self._associations_page(from_type, to_type, batch, found))
        return {key: list(dict.fromkeys(linked)) for key, linked in found.items()}

    def _associations_page(self, from_type: str, to_type: str, inputs: list[dict[str, str]],
                           found: dict[str, list[str]]) -> list[dict[str, str]]:
        """Read one batch into `found`; the inputs still to read (objects with a next page)."""
        body = {"inputs": inputs}
        try:
            answer = self.gateway.call(
                f"POST /crm/v4/associations/{from_type}/{to_type}/batch/read", BURST,
                lambda: read_json(self.associations_batch.get_page_with_http_info(
                    from_type, to_type, body, _preload_content=False,
                    _request_timeout=self.timeout)))
        except Exception as exc:
            if status_of(exc) == 404:  # no object of the batch has an association
                return []
            raise
        more = []
        # objects without associations come back in `errors` of a 207: they keep their []
        for result in answer.body.get("results") or []:
            key = str((result.get("from") or {}).get("id"))
            found.setdefault(key, []).extend(
                str(to["toObjectId"]) for to in result.get("to") or [] if to.get("toObjectId"))
            after = ((result.get("paging") or {}).get("next") or {}).get("after")
            if after:
                more.append({"id": key, "after": str(after)})
        return more


def deal_reader(gateway: HubSpotGateway) -> DealReader:
    """The gateway's one DealReader, built on first use."""
    reader = gateway.__dict__.get("_deal_reader")
    if reader is None:
        reader = gateway.__dict__["_deal_reader"] = DealReader(gateway)
    assert isinstance(reader, DealReader)
    return reader


def read_deals(gateway: HubSpotGateway, ids: Sequence[str],
               properties: Sequence[str] = DEAL_PROPERTIES) -> list[Deal]:
    """Deals by id, through the gateway's limiter and retries."""
    return deal_reader(gateway).read_deals(ids, properties)


def deal_contact_ids(gateway: HubSpotGateway, deal_ids: Sequence[str]) -> dict[str, list[str]]:
    """{deal id: associated contact ids}, through the gateway's limiter and retries."""
    return deal_reader(gateway).deal_contact_ids(deal_ids)


def contact_deal_ids(gateway: HubSpotGateway, contact_ids: Sequence[str]
                     ) -> dict[str, list[str]]:
    """{contact id: associated deal ids}, through the gateway's limiter and retries."""
    return deal_reader(gateway).contact_deal_ids(contact_ids)
