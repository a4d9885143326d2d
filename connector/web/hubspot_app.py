"""What the app's components in HubSpot call: the contact card's data (`hubspot.fetch`, signed
v3) and the custom workflow actions (signed v2, or v3)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from connector.report.card import card_of
from connector.sync.actions import ACTIONS, UnknownContact, answer_action
from connector.web.current import runtime_of
from connector.web.deliveries import BadEvents, load_json
from connector.web.inbound import raw_body, signature_problem

log = logging.getLogger(__name__)
bp = Blueprint("hubspot_app", __name__)

# fullmatch, never match: `$` also matches before a final newline
CONTACT_ID = re.compile(r"[0-9]{1,30}")  # ASCII digits only (not \d, which takes "²")
CALLBACK_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _refused(status: int, problem: str) -> Response:
    """A short JSON refusal that reveals nothing about the contact."""
    response = jsonify({"error": problem})
    response.status_code = status
    return response


@bp.get("/app/card/contacts/<contact_id>")
def contact_card(contact_id: str) -> Response:
    """The card's data, from the connector's database only.

    `hubspot.fetch` sends no custom headers; HubSpot signs the request with v3 over the URL
    including the query parameters it appends (developers.hubspot.com/docs/apps/
    developer-platform/add-features/ui-extensibility/fetching-data), so the whole query is
    part of what is checked and none of it is trusted beyond the path's contact id.
    """
    problem = signature_problem(b"", versions=("v3",))
    if problem:
        log.warning("card request refused: %s", problem)
        return _refused(401, "bad signature")
    if not CONTACT_ID.fullmatch(contact_id):
        return _refused(400, "contact id must be a number")
    runtime = runtime_of(current_app)
    try:
        with runtime.sessions() as session:
            card = card_of(session, runtime.mapping, runtime.program, contact_id)
    except SQLAlchemyError as exc:
        log.error("card: database unavailable: %s", type(exc).__name__)
        return _refused(503, "the connector's database is unavailable")
    return jsonify(card)


def _execution(body: bytes) -> tuple[str, str]:
    """(callbackId, contact id) of a custom action execution, or BadEvents.

    HubSpot's payload: `callbackId`, `origin`, `context`, `object` {`objectId`, `objectType`},
    `inputFields` (developers.hubspot.com/docs/api-reference/automation-actions-v4-v4/
    custom-action-guide). The docs do not say whether `objectType` is `CONTACT` or `0-1` on
    the new platform: both are accepted.
    """
    payload: Any = load_json(body, exact=True)
    if not isinstance(payload, dict):
        raise BadEvents("body is not a JSON object")
    callback = payload.get("callbackId")
    if not isinstance(callback, str) or not CALLBACK_ID.fullmatch(callback):
        raise BadEvents("callbackId is missing or malformed")
    target = payload.get("object")
    if not isinstance(target, dict):
        raise BadEvents("object is missing")
    if str(target.get("objectType", "")).upper() not in ("CONTACT", "0-1"):
        raise BadEvents("the actions run on contacts only")
    object_id = target.get("objectId")
    text = str(object_id) if type(object_id) is int or isinstance(object_id, str) else ""
    if not CONTACT_ID.fullmatch(text):
        raise BadEvents("object.objectId must be a number")
    return callback, text


@bp.post("/app/actions/<action>")
def workflow_action(action: str) -> Response:
    """One custom action execution: HubSpot's `outputFields`, once per `callbackId`."""
    body = raw_body()
    if body is None:
        return _refused(413, "body over 1 MiB")
    problem = signature_problem(body, versions=("v2", "v3"))
    if problem:
        log.warning("workflow action refused: %s", problem)
        return _refused(401, "bad signature")
    if action not in ACTIONS:
        return _refused(404, f"no action {action!r}")
    try:
        callback_id, contact_id = _execution(body)
    except BadEvents as exc:
        return _refused(400, str(exc))
    runtime = runtime_of(current_app)
    try:
        output = answer_action(runtime, action, callback_id=callback_id,
                               contact_id=contact_id, now=datetime.now(UTC))
    except UnknownContact as exc:
        # the workflow goes on; HubSpot shows the reason in the action's history
        output = {"hs_execution_state": "FAIL_CONTINUE", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - HubSpot retries a 5xx; nothing was stored
        log.error("workflow action %s failed: %s", action, type(exc).__name__)
        return _refused(503, "temporarily unavailable, retry later")
    return jsonify({"outputFields": output})
