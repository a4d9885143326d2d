"""HubSpot request signatures (v1, v2, v3): one pure check, one exception type.

HubSpot's algorithms: https://developers.hubspot.com/docs/api/webhooks/validating-requests
(v3: base64 HMAC-SHA256 over method + URI + body + timestamp, 5-minute window, some
percent-escapes of the URI decoded first; v1: sha256 hex of secret + body; v2: sha256 hex of
secret + method + URI + body). The SDK's `hubspot.utils.signature.Signature` decodes no URI,
accepts future timestamps and raises instead of answering, so this module stands alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

MAX_SKEW_MS = 5 * 60 * 1000

# the escapes HubSpot's docs say to decode in the URI before building the v3 source string
_V3_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


class SignatureError(Exception):
    """The request is not signed by HubSpot with our secret; the message says why (no secret)."""


def decode_v3_uri(uri: str) -> str:
    """The URI with the percent-escapes HubSpot lists decoded (either case), others kept."""
    out: list[str] = []
    i = 0
    while i < len(uri):
        escape = uri[i : i + 3].upper()
        if uri[i] == "%" and escape in _V3_DECODED:
            out.append(_V3_DECODED[escape])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    """The X-HubSpot-Signature-v3 value HubSpot sends for this request."""
    source = b"".join(
        (method.upper().encode(), decode_v3_uri(uri).encode(), body, str(timestamp_ms).encode())
    )
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_v1(secret: str, body: bytes) -> str:
    """The v1 X-HubSpot-Signature: sha256 hex of secret + body."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """The v2 X-HubSpot-Signature: sha256 hex of secret + method + URI + body."""
    source = b"".join((secret.encode(), method.upper().encode(), uri.encode(), body))
    return hashlib.sha256(source).hexdigest()


def _same(expected: str, given: str) -> bool:
    # bytes, so a non-ASCII header cannot make compare_digest raise; constant time either way
    return hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace"))


def verify_signature(
    *, method: str, url: str, body: bytes, headers: Mapping[str, str], secret: str,
    now_ms: int,
) -> str:
    """Check the request is HubSpot's; return the version used or raise SignatureError."""
    if not secret:
        raise SignatureError("no client secret configured")
    lowered = {k.lower(): v for k, v in headers.items()}
    v3 = lowered.get("x-hubspot-signature-v3")
    if v3:
        raw_ts = lowered.get("x-hubspot-request-timestamp", "").strip()
        if not (raw_ts.isascii() and raw_ts.isdigit()) or len(raw_ts) > 15:
            raise SignatureError("missing or malformed X-HubSpot-Request-Timestamp")
        timestamp = int(raw_ts)
        if now_ms - timestamp > MAX_SKEW_MS:
            raise SignatureError("timestamp older than 5 minutes")
        if timestamp - now_ms > MAX_SKEW_MS:
            raise SignatureError("timestamp more than 5 minutes in the future")
        if not _same(sign_v3(secret, method, url, body, raw_ts), v3):
            raise SignatureError("v3 signature does not match")
        return "v3"
    signature = lowered.get("x-hubspot-signature")
    if not signature:
        raise SignatureError("no X-HubSpot-Signature-v3 or X-HubSpot-Signature header")
    version = lowered.get("x-hubspot-signature-version", "").strip().lower()
    if version == "v1":
        expected = sign_v1(secret, body)
    elif version == "v2":
        expected = sign_v2(secret, method, url, body)
    else:
        raise SignatureError("missing or unknown X-HubSpot-Signature-Version")
    if not _same(expected, signature):
        raise SignatureError(f"{version} signature does not match")
    return version
