"""The HubSpot account behind the token: `GET /account-info/v3/details` answers `portalId` and
`uiDomain` (developers.hubspot.com/docs/api/settings/account-information-api), which make the
address of a record's page: https://{uiDomain}/contacts/{portalId}/record/0-1/{contact id}."""

from __future__ import annotations

from dataclasses import dataclass

from connector.hubspot.gateway import HubSpotGateway
from connector.hubspot.limiter import BURST

DEFAULT_UI_DOMAIN = "app.hubspot.com"


@dataclass(frozen=True)
class Account:
    portal_id: int
    ui_domain: str


def account_details(gateway: HubSpotGateway) -> Account:
    """The token's account (one call)."""
    answer = gateway.call("GET /account-info/v3/details", BURST,
                          lambda: gateway.apis.request("GET", "/account-info/v3/details"))
    body = answer.json()
    return Account(int(body["portalId"]), str(body.get("uiDomain") or DEFAULT_UI_DOMAIN))


def record_url(portal_id: int, ui_domain: str, contact_id: str) -> str:
    """The page of a contact record in HubSpot."""
    return f"https://{ui_domain}/contacts/{portal_id}/record/0-1/{contact_id}"
