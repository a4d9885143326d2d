"""Every CRM call the connector makes: rate-limited, retried, batched, paged past 10,000."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from hubspot.crm.contacts import ApiException
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.hubspot.client import HubSpotApis
from connector.hubspot.limiter import BURST, SEARCH, Limiter, build_limiter
from connector.hubspot.records import Contact, UpdateResult
from connector.hubspot.retry import (
    DailyLimitReached,
    RetryPolicy,
    TokenRejected,
    error_body,
    rate_limit_policy,
    status_of,
)
from connector.hubspot.search import ContactSearch
from connector.hubspot.usage import UsageCounter, record_usage

__all__ = [
    "ApiException", "Contact", "DailyLimitReached", "HubSpotGateway", "TokenRejected",
    "UpdateResult", "build_gateway",
]

T = TypeVar("T")

BATCH_SIZE = 100  # HubSpot's batch read/update input limit
# a whole-batch 4xx for one bad input: split the batch until the bad inputs stand alone
SPLITTABLE_STATUSES = frozenset({400, 404, 409})


@dataclass(frozen=True)
class JsonAnswer:
    """A successful answer read as JSON (the SDK's models are skipped on hot paths)."""

    status: int
    body: dict[str, Any]


def read_json(raw: Any) -> JsonAnswer:
    """Read an SDK answer made with `_preload_content=False` (a urllib3 response) as JSON.

    The SDK's model deserialisation parses every timestamp with dateutil, which costs more
    than the HTTP call for a 200-contact page; HubSpot's JSON is used as it comes instead.
    """
    try:
        data = raw.data
    finally:
        raw.release_conn()
    body = json.loads(data) if data else {}
    return JsonAnswer(int(raw.status), body if isinstance(body, dict) else {})


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def contact_from_json(obj: Mapping[str, Any]) -> Contact:
    """A Contact from HubSpot's SimplePublicObject JSON."""
    return Contact(
        id=str(obj["id"]), properties=dict(obj.get("properties") or {}),
        created_at=_timestamp(obj.get("createdAt")), updated_at=_timestamp(obj.get("updatedAt")),
        archived=bool(obj.get("archived", False)),
    )


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed input: HubSpot's category and message, or the status."""
    body = error_body(exc)
    category, message = body.get("category"), body.get("message")
    if category or message:
        return f"{category or 'ERROR'}: {message or ''}".strip()
    return f"HTTP {status_of(exc) or type(exc).__name__}"


def _answer_status(answer: object) -> int:
    """The status of a successful answer: requests' Response or `*_with_http_info`'s tuple."""
    if isinstance(answer, requests.Response):
        return answer.status_code
    if isinstance(answer, JsonAnswer):
        return answer.status
    if isinstance(answer, tuple) and len(answer) == 3 and isinstance(answer[1], int):
        return answer[1]
    return 200


class HubSpotGateway:
    """Rate-limited, retried access to HubSpot through the official SDK."""

    def __init__(
        self, apis: HubSpotApis, limiter: Limiter, *, policy: RetryPolicy | None = None,
        usage: UsageCounter | None = None,
    ) -> None:
        self.apis = apis
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self.counter = usage or UsageCounter()
        self._search = ContactSearch(self._search_page)

    # -- one call: limiter, usage, retries ---------------------------------------------

    def call(
        self, endpoint: str, bucket: str, send: Callable[[], T], *,
        retry_server_errors: bool = True,
    ) -> T:
        """Run one HubSpot call through the limiter and the retry policy, counting attempts.

        `send` returns what the SDK returns; the status of `*_with_http_info`'s (data, status,
        headers) or of a requests Response is counted, anything else counts as 200.
        """

        def attempt() -> T:
            self.limiter.acquire(bucket)
            try:
                answer = send()
            except Exception as exc:
                status = status_of(exc) or 0
                policy = rate_limit_policy(exc) if status == 429 else None
                self.counter.record(endpoint, status, policy)
                raise
            self.counter.record(endpoint, _answer_status(answer))
            return answer

        return self.policy.call(attempt, retry_server_errors=retry_server_errors)

    # -- contacts ----------------------------------------------------------------------

    def get_contact(self, id_or_email: str, properties: Sequence[str]) -> Contact | None:
        """One contact by id (digits) or email; None when HubSpot has no such contact."""
        # batch read, not GET: properties travel in the body, never in a long query string
        wanted = id_or_email.strip()
        by_email = not (wanted.isascii() and wanted.isdigit())  # "²" is a digit to Python
        found = self._read_batch([wanted], properties,
                                 id_property="email" if by_email else None)
        return found[0] if found else None

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[Contact]:
        """Batch read in 100s; ids HubSpot does not know are absent from the result."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        contacts: list[Contact] = []
        for start in range(0, len(unique), BATCH_SIZE):
            contacts.extend(self._read_batch(unique[start:start + BATCH_SIZE], properties))
        return contacts

    def _read_batch(
        self, ids: list[str], properties: Sequence[str], id_property: str | None = None,
    ) -> list[Contact]:
        body: dict[str, Any] = {
            "inputs": [{"id": i} for i in ids],
            "properties": list(properties),
            "propertiesWithHistory": [],
        }
        if id_property:
            body["idProperty"] = id_property
        try:
            answer = self.call(
                "POST /crm/v3/objects/contacts/batch/read", BURST,
                lambda: read_json(self.apis.contacts_batch.read_with_http_info(
                    body, archived=False, _preload_content=False,
                    _request_timeout=self.apis.timeout)),
            )
        except Exception as exc:
            if status_of(exc) == 404:  # none of the ids exist
                return []
            raise
        return [contact_from_json(obj) for obj in answer.body.get("results") or []]

    def update_contacts(self, updates: Mapping[str, Mapping[str, str]]) -> UpdateResult:
        """Batch update in 100s: {contact id: {property: value}}."""
        result = UpdateResult()
        items = [(str(cid), dict(props)) for cid, props in updates.items()]
        for start in range(0, len(items), BATCH_SIZE):
            self._update_batch(items[start:start + BATCH_SIZE], result)
        return result

    def _update_batch(self, items: list[tuple[str, dict[str, str]]], result: UpdateResult) -> None:
        body = {"inputs": [{"id": cid, "properties": props} for cid, props in items]}
        try:
            answer = self.call(
                "POST /crm/v3/objects/contacts/batch/update", BURST,
                lambda: read_json(self.apis.contacts_batch.update_with_http_info(
                    body, _preload_content=False, _request_timeout=self.apis.timeout)),
            )
        except Exception as exc:
            if status_of(exc) not in SPLITTABLE_STATUSES:
                raise
            if len(items) == 1:
                result.errors[items[0][0]] = describe_error(exc)
                return
            # one bad value fails the whole batch: halve until the good inputs go through
            middle = len(items) // 2
            self._update_batch(items[:middle], result)
            self._update_batch(items[middle:], result)
            return
        sent = [cid for cid, _ in items]
        updated = {str(obj.get("id")) for obj in answer.body.get("results") or []}
        # a 207 lists per-input errors, each naming its inputs in context.ids
        for error in answer.body.get("errors") or []:
            context = error.get("context") or {}
            message = f"{error.get('category') or 'ERROR'}: {error.get('message') or ''}".strip()
            for cid in context.get("ids") or context.get("id") or []:
                result.errors[str(cid)] = message
        for cid in sent:
            if cid in updated:
                result.updated.append(cid)
            elif cid not in result.errors:
                result.errors[cid] = "not in HubSpot's answer"

    def iter_contacts(
        self, properties: Sequence[str], *, modified_since_ms: int | None = None,
        after_object_id: int | None = None,
    ) -> Iterator[list[Contact]]:
        """Search pages of up to 200, past the 10,000 cap (see `connector.hubspot.search`)."""
        return self._search.iter_pages(
            properties, modified_since_ms=modified_since_ms, after_object_id=after_object_id
        )

    def _search_page(self, body: dict[str, Any]) -> tuple[list[Contact], bool]:
        answer = self.call(
            "POST /crm/v3/objects/contacts/search", SEARCH,
            lambda: read_json(self.apis.contacts_search.do_search_with_http_info(
                body, _preload_content=False, _request_timeout=self.apis.timeout)),
        )
        more = bool(((answer.body.get("paging") or {}).get("next") or {}).get("after"))
        return [contact_from_json(obj) for obj in answer.body.get("results") or []], more

    # -- workflows ---------------------------------------------------------------------

    def enroll(self, workflow_id: str, email: str) -> None:
        """v2 enrollment of a contact in a contact-based workflow."""
        path = (f"/automation/v2/workflows/{quote(str(workflow_id), safe='')}"
                f"/enrollments/contacts/{quote(email, safe='@')}")
        self.call(
            "POST /automation/v2/workflows/{id}/enrollments/contacts/{email}", BURST,
            lambda: self.apis.request("POST", path),
        )

    # -- usage -------------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        """Calls made by this process: total, by endpoint and status, 429s."""
        return self.counter.snapshot()

    def record_usage(self, session: Session) -> int:
        """Add this process's calls since the last save to `api_usage` (hourly buckets)."""
        return record_usage(session, self.counter)


def build_gateway(settings: Settings, engine: Engine | None = None) -> HubSpotGateway:
    """The one gateway of a process, pointed at HUBSPOT_BASE_URL."""
    return HubSpotGateway(HubSpotApis(settings), build_limiter(settings, engine))
