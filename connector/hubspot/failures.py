"""A HubSpot failure in one line for the admin: what HubSpot answered (status, `category`,
`correlationId`), or why it could not be reached, and how hard the connector tried."""

from __future__ import annotations

import re
import ssl

import requests
import urllib3

from connector.hubspot.retry import error_body, rate_limit_policy, status_of

MESSAGE_CHARS = 200
ERRNO = re.compile(r"\[Errno -?\d+\]\s*([^)\]'\"]+)")


def _tries(exc: BaseException) -> str:
    tries = getattr(exc, "hubspot_attempts", None)
    waited = getattr(exc, "hubspot_waited_s", None)
    if not isinstance(tries, int) or tries <= 1:
        return ""
    spent = f" over {waited:.0f} s" if isinstance(waited, float) and waited >= 1 else ""
    return f" after {tries} tries{spent}"


def is_hubspot_answer(exc: BaseException) -> bool:
    """An error answer from HubSpot's SDK (any of its generated packages)."""
    return status_of(exc) is not None and type(exc).__module__.split(".")[0] == "hubspot"


def _answer_line(exc: BaseException) -> str:
    status = status_of(exc)
    body = error_body(exc)
    category = body.get("category") or body.get("errorType")
    message = " ".join(str(body.get("message") or getattr(exc, "reason", "") or "").split())
    if status == 429:
        what = f"HubSpot kept answering 429 ({rate_limit_policy(exc)} rate limit){_tries(exc)}"
    else:
        what = f"HubSpot answered {status}{f' {category}' if category else ''}{_tries(exc)}"
    if message:
        what += f": {message[:MESSAGE_CHARS]}"
    correlation = body.get("correlationId")
    if correlation:
        what += f" (correlationId {correlation})"
    return what


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the causes inside requests' and urllib3's wrappers, outermost first."""
    chain = [exc]
    while len(chain) < 10:
        current = chain[-1]
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException) and current.args and isinstance(
                current.args[0], BaseException):
            inner = current.args[0]
        if not isinstance(inner, BaseException):
            inner = current.__cause__
        if not isinstance(inner, BaseException) or inner in chain:
            break
        chain.append(inner)
    return chain


def _first(chain: list[BaseException], kinds: type | tuple[type, ...]) -> BaseException | None:
    return next((e for e in chain if isinstance(e, kinds)), None)


def _unreachable_reason(exc: BaseException) -> str | None:
    chain = _chain(exc)
    if _first(chain, urllib3.exceptions.NameResolutionError):
        return "its host name does not resolve (DNS)"
    tls = _first(chain, (ssl.SSLError, urllib3.exceptions.SSLError,
                         requests.exceptions.SSLError))
    if tls is not None:
        return f"TLS failed ({str(tls).splitlines()[0][:MESSAGE_CHARS]})"
    refused = _first(chain, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))
    if refused is not None:
        found = ERRNO.search(str(refused))
        return found.group(1).strip().lower() if found else "the connection failed"
    if _first(chain, urllib3.exceptions.ConnectTimeoutError):
        return "connecting timed out"
    if _first(chain, (urllib3.exceptions.ReadTimeoutError, requests.Timeout)):
        return "it did not answer in time"
    broken = _first(chain, (urllib3.exceptions.ProtocolError, ConnectionError,
                            urllib3.exceptions.HTTPError, requests.ConnectionError))
    if broken is not None:
        return f"the connection broke ({str(broken).splitlines()[0][:MESSAGE_CHARS]})"
    return None


def hubspot_problem(exc: BaseException, base_url: str) -> str | None:
    """The line for a HubSpot failure, or None when `exc` is not one."""
    if is_hubspot_answer(exc):
        return _answer_line(exc)
    if not isinstance(exc, urllib3.exceptions.HTTPError | requests.RequestException |
                      ConnectionError | ssl.SSLError):
        return None
    reason = _unreachable_reason(exc)
    if reason is None:
        return None
    return f"cannot reach HubSpot at {base_url}: {reason}{_tries(exc)}"
