"""HubSpot's error bodies: `status`, `message`, `correlationId`, `category` (plus extras)."""

from __future__ import annotations

import uuid
from typing import Any


class HubSpotError(Exception):
    """An error the sandbox answers with HubSpot's JSON error body."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body HubSpot sends with this error."""
        return error_body(self.category, self.message, **self.extra)


def error_body(category: str | None, message: str, **extra: Any) -> dict[str, Any]:
    """One HubSpot error body; `category` is omitted for rate-limit bodies, which carry none."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
    }
    if category is not None:
        body["category"] = category
    body.update(extra)
    return body


def batch_error(category: str, message: str, context: dict[str, Any]) -> dict[str, Any]:
    """One entry of a 207 batch response's `errors` (the SDK's StandardError needs every key)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }


def not_found(message: str = "resource not found") -> HubSpotError:
    """404 OBJECT_NOT_FOUND, as HubSpot answers for an unknown record."""
    return HubSpotError(404, "OBJECT_NOT_FOUND", message)


def validation(message: str, **extra: Any) -> HubSpotError:
    """400 VALIDATION_ERROR."""
    return HubSpotError(400, "VALIDATION_ERROR", message, **extra)
