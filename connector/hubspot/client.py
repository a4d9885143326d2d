"""The official SDK client, built once per process and pointed at HUBSPOT_BASE_URL."""

from __future__ import annotations

from typing import Any

import requests
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException
from hubspot.utils.requests.http_request_builder import Request

from connector.config import Settings


class HubSpotApis:
    """The SDK API objects the connector uses, each built once.

    Every `client.crm.contacts.search_api` access builds a new API client and urllib3 pool,
    so they are read here once and kept. The SDK's urllib3 retry is off (`retry=False`):
    `connector.hubspot.retry` is the one retry layer.
    """

    def __init__(self, settings: Settings) -> None:
        base_url = settings.hubspot_base_url
        self.timeout = settings.request_timeout
        # `host` points the generated (urllib3) APIs, `base_url` points `api_request`
        self.client = HubSpot(
            access_token=settings.require_token(), host=base_url, base_url=base_url, retry=False
        )
        contacts = self.client.crm.contacts
        self.contacts_batch = contacts.batch_api
        self.contacts_search = contacts.search_api
        properties = self.client.crm.properties
        self.properties = properties.core_api
        self.property_groups = properties.groups_api
        # `api_request` calls module-level `requests` with no timeout; we build the request the
        # same way (the SDK's own builder: URL, auth, JSON body) and send it on one Session
        self.session = requests.Session()

    def request(
        self, method: str, path: str, *, body: Any = None, qs: dict[str, Any] | None = None,
    ) -> requests.Response:
        """An `api_request` call with a timeout; a non-2xx answer raises ApiException."""
        options: dict[str, Any] = {"method": method, "path": path}
        if body is not None:
            options["body"] = body
        if qs:
            options["qs"] = qs
        built = Request(self.client.config, options)
        response = self.session.request(
            built.get_method(), built.get_url(), timeout=self.timeout,
            **built.get_options_for_sending(),
        )
        if response.status_code >= 400:
            raise api_exception(response)
        return response

    def close(self) -> None:
        """Release the requests session's connections."""
        self.session.close()


def api_exception(response: requests.Response) -> ApiException:
    """The SDK's ApiException for a requests answer, so both paths fail the same way."""
    exc = ApiException(status=response.status_code, reason=response.reason)
    exc.body = response.text
    exc.headers = response.headers
    return exc
