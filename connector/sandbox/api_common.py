"""What every sandbox API reads from a request and how batch endpoints answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import request

from connector.sandbox.errors import batch_error, validation
from connector.sandbox.values import iso_ms, now_ms


def json_body() -> dict[str, Any]:
    """The request's JSON object, or HubSpot's 400 VALIDATION_ERROR."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise validation("Invalid input JSON: expected an object")
    return body


def properties_of(body: Any, where: str = "properties") -> dict[str, Any]:
    """The `properties` object of an input (absent or null: none), or HubSpot's 400.

    HubSpot's SimplePublicObjectInput declares `properties` an object of strings
    (developers.hubspot.com/docs/api/crm/contacts, the request schemas)."""
    if not isinstance(body, dict):
        raise validation(f"Invalid input JSON: {where.rsplit('.', 1)[0]} must be an object")
    found = body.get("properties")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise validation(f"Invalid input JSON: `{where}` must be an object of property values")
    return found


def names_of(body: dict[str, Any]) -> list[str] | None:
    """The `properties` list of a read (names to return), None when absent, or HubSpot's 400."""
    names = body.get("properties")
    if names is None or names == []:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise validation("Invalid input JSON: `properties` must be a list of property names")
    return names


def optional_text(body: dict[str, Any], name: str) -> str | None:
    """An optional string field (e.g. `idProperty`), or HubSpot's 400."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise validation(f"Invalid input JSON: `{name}` must be a string")
    return value


def whole_number_arg(name: str, default: int) -> int:
    """A query parameter of ASCII digits (a paging cursor, a limit), or HubSpot's 400.

    HubSpot's `after` is the opaque cursor of its last answer: for contacts the digits of an
    id. The docs do not say what an invalid one answers; a 400 VALIDATION_ERROR like the
    search endpoint's is assumed."""
    raw = request.args.get(name)
    if raw is None or (name == "after" and raw == ""):
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 30:
        raise validation(f"Invalid `{name}`: expected a whole number, got {raw!r}")
    return int(raw)


def property_names() -> list[str] | None:
    """The `properties` query parameter (repeated or comma-separated), None when absent."""
    raw = [p for value in request.args.getlist("properties") for p in value.split(",") if p]
    return raw or None


def batch_answer(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: int,
                 ok_status: int = 200) -> tuple[dict[str, Any], int]:
    """A batch response: COMPLETE with results, or 207 with `errors` when some inputs failed."""
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results,
                              "startedAt": iso_ms(started), "completedAt": iso_ms(now_ms())}
    if errors:
        answer["errors"] = errors
        answer["numErrors"] = len(errors)
        return answer, 207
    return answer, ok_status


def batch_read_answer(keys: Iterable[str], lookup: Callable[[str], Any], names: list[str] | None,
                      object_type: str, started: int) -> tuple[dict[str, Any], int]:
    """A batch read: each distinct id once; unknown ids make one 207 OBJECT_NOT_FOUND error."""
    results, missing = [], []
    for key in dict.fromkeys(keys):
        found = lookup(key)
        if found is None:
            missing.append(key)
        else:
            results.append(found.to_json(names))
    errors = [batch_error("OBJECT_NOT_FOUND", f"Could not get some {object_type} objects, they "
                          "may be deleted or not exist. Check that ids are valid.",
                          {"ids": missing})] if missing else []
    return batch_answer(results, errors, started)
