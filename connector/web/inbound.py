"""What every request HubSpot sends needs: the public URL it signed, the raw body (at most
1 MiB), and the signature check against the app's client secret."""

from __future__ import annotations

import time
from collections.abc import Collection
from urllib.parse import quote

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from connector.web.current import runtime_of
from connector.web.signatures import SignatureError, verify_signature

MAX_BODY = 1024 * 1024
READ_CHUNK = 64 * 1024


def public_url() -> str:
    """The URL HubSpot signed: CONNECTOR_PUBLIC_URL + path + query, else the proxied request URL.

    CONNECTOR_PUBLIC_URL is where HubSpot reaches the app, any path prefix included, so the
    prefix a proxy announces (X-Forwarded-Prefix, the script root) is not added twice.
    """
    base = runtime_of(current_app).settings.public_url
    if not base:
        # as received; rebuilt from X-Forwarded-* only behind TRUSTED_PROXY_HOPS proxies
        return request.url
    query = request.query_string.decode("latin-1")
    path = quote(request.path, safe="/!$&'()*+,:;=@%~")
    return base + path + (f"?{query}" if query else "")


def raw_body() -> bytes | None:
    """The raw body, or None when it is over the 1 MiB limit, however it is sent.

    A chunked body has no Content-Length to refuse up front: it is read up to one byte past
    the limit and refused there, so no size of body is ever read whole.
    """
    cached = g.get("raw_body")
    if isinstance(cached, bytes):
        return cached
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_BODY:
            chunk = request.stream.read(min(READ_CHUNK, MAX_BODY + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:  # the server's own limit (MAX_CONTENT_LENGTH) said so first
        return None
    if size > MAX_BODY:
        return None
    g.raw_body = body = b"".join(chunks)
    return body


def signature_problem(body: bytes, versions: Collection[str] = ("v1", "v2", "v3")
                      ) -> str | None:
    """None when the request carries HubSpot's signature with our secret in one of `versions`,
    else why not."""
    try:
        version = verify_signature(
            method=request.method, url=public_url(), body=body, headers=dict(request.headers),
            secret=runtime_of(current_app).settings.hubspot_client_secret or "",
            now_ms=int(time.time() * 1000),
        )
    except SignatureError as exc:
        return str(exc)
    if version not in versions:
        return f"a {version} signature where {'/'.join(versions)} is required"
    return None
