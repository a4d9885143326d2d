"""HubSpot calling the app's backend: the contact card's `hubspot.fetch` and the custom
workflow actions' executions, signed as HubSpot signs them, so tests drive both over HTTP.

- The card: a GET to the card's URL with the query parameters HubSpot appends to
  `hubspot.fetch` requests (`userId`, `userEmail`, `appId`, `portalId`), signed v3 over
  method + URL (query included) + empty body + timestamp ("Fetching data" and "Request
  validation" pages of the developer platform docs). The docs do not list the appended
  parameters' order; the signature covers the URL as sent, whatever it is.
- An action: a POST of HubSpot's execution payload (`callbackId`, `origin`, `context`,
  `object`, `inputFields`; "Custom workflow actions" guide), signed v2
  (`X-HubSpot-Signature` = hex SHA-256 of secret + method + URL + body) with v3 beside it, as
  HubSpot sends both for backwards compatibility.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any
from urllib.parse import urlencode

import requests

from connector.sandbox.values import now_ms
from connector.sandbox.webhooks import sign_v3

PORTAL_ID = 62515
APP_ID = 54321
USER = {"userId": "2001", "userEmail": "admin@portal.example"}
_callbacks = itertools.count(1)


# HubSpot signs v3 over the URI with these escapes decoded ("Request validation")
V3_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
              "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3."""
    for escaped, plain in V3_DECODED.items():
        uri = uri.replace(escaped, plain).replace(escaped.lower(), plain)
    return uri


def sign_v2(secret: str, method: str, uri: str, body: str) -> str:
    """HubSpot's v2 signature: hex SHA-256 of secret + method + URI + body."""
    return hashlib.sha256(f"{secret}{method}{uri}{body}".encode()).hexdigest()


def fetch_card(base_url: str, contact_id: str, secret: str, *, timeout_s: float = 15.0,
               timestamp_ms: int | None = None,
               session: requests.Session | None = None) -> requests.Response:
    """The card's `hubspot.fetch` for one contact (HubSpot's default timeout is 15 s)."""
    query = urlencode({**USER, "appId": APP_ID, "portalId": PORTAL_ID})
    url = f"{base_url.rstrip('/')}/app/card/contacts/{contact_id}?{query}"
    stamp = timestamp_ms if timestamp_ms is not None else now_ms()
    headers = {"X-HubSpot-Signature-v3": sign_v3(secret, "GET", v3_uri(url), "", stamp),
               "X-HubSpot-Request-Timestamp": str(stamp), "Accept": "application/json"}
    return (session or requests).get(url, headers=headers, timeout=timeout_s)


def action_payload(contact_id: str, callback_id: str | None = None,
                   input_fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """HubSpot's body for one execution of a custom action on a contact."""
    return {
        "callbackId": callback_id or f"ap-{PORTAL_ID}-{next(_callbacks)}-0-0",
        "origin": {"portalId": PORTAL_ID, "actionDefinitionId": 1010, "actionDefinitionVersion": 1},
        "context": {"source": "WORKFLOWS", "workflowId": 2020},
        "object": {"objectId": int(contact_id), "objectType": "CONTACT"},
        "inputFields": input_fields or {},
    }


def execute_action(base_url: str, action: str, contact_id: str, secret: str, *,
                   callback_id: str | None = None, timeout_s: float = 30.0) -> requests.Response:
    """One signed execution of the app's custom action `action` on a contact."""
    url = f"{base_url.rstrip('/')}/app/actions/{action}"
    body = json.dumps(action_payload(contact_id, callback_id))
    stamp = now_ms()
    headers = {"Content-Type": "application/json",
               "X-HubSpot-Signature": sign_v2(secret, "POST", url, body),
               "X-HubSpot-Signature-Version": "v2",
               "X-HubSpot-Signature-v3": sign_v3(secret, "POST", v3_uri(url), body, stamp),
               "X-HubSpot-Request-Timestamp": str(stamp)}
    return requests.post(url, data=body.encode(), headers=headers, timeout=timeout_s)
