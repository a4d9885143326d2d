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
