"""What every sandbox API reads from a request and how batch endpoints answer."""

from __future__ import annotations

from typing import Any

from flask import request

from connector.sandbox.errors import validation
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
