"""The write-back diff: which property values a contact should carry, and which differ."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connector.hubspot.schema import PropertySchema
from connector.scoring.model import ReadinessScore

Changes = dict[str, list[Any]]  # {HubSpot property: [before, after]}


def hubspot_datetime(moment: datetime) -> str:
    """A datetime as HubSpot writes and returns it: ISO 8601, UTC, milliseconds, `Z`."""
    # https://developers.hubspot.com/docs/api/crm/properties: datetime values take ISO 8601
    # or epoch milliseconds; this is also the shape HubSpot answers with, so a read-back matches
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def readiness_properties(
    schema: PropertySchema, readiness: ReadinessScore, written: Mapping[str, Any], now: datetime,
) -> dict[str, str]:
    """Score, tier and reasons as HubSpot values; `scored_at` too when the score changed."""
    score_name = schema.name("score")
    desired = {
        score_name: str(readiness.score),
        schema.name("tier"): readiness.tier,
        schema.name("reasons"): readiness.reasons,
    }
    if written.get(score_name) != desired[score_name]:
        desired[schema.name("scored_at")] = hubspot_datetime(now)
    return desired


def diff(written: Mapping[str, Any], desired: Mapping[str, str]) -> Changes:
    """The properties whose desired value differs from the one last written."""
    return {name: [written.get(name), value] for name, value in desired.items()
            if written.get(name) != value}


def after_write(written: Mapping[str, Any], changes: Changes) -> dict[str, Any]:
    """The `written` record once HubSpot accepted these changes (a new dict: JSON columns
    only notice reassignment)."""
    merged = dict(written)
    merged.update({name: after for name, (_before, after) in changes.items()})
    return merged


# the connector's own properties a full pass reads back and corrects when HubSpot has another
# value (edited by hand): facts the connector decides. Not the workflow triggers (a workflow
# may clear them) nor the dates (HubSpot may write them in another spelling).
HUBSPOT_IS_TRUTH = ("score", "tier", "reasons", "referral_code", "referral_link",
                    "referral_status", "referrals_made", "referrals_converted",
                    "referral_rewards_earned", "referral_rewards_paid")


def truth_properties(schema: PropertySchema) -> dict[str, str]:
    """{HubSpot name: type} of the connector's properties a full pass compares."""
    return {schema.definitions[key].name: schema.definitions[key].type
            for key in HUBSPOT_IS_TRUTH if key in schema.definitions}


def _same(hubspot: str | None, remembered: Any, kind: str) -> bool:
    if (hubspot or "") == ("" if remembered is None else str(remembered)):
        return True
    if kind == "number" and hubspot and remembered not in (None, ""):
        try:
            return float(hubspot) == float(remembered)  # "5" and "5.0" are one number
        except ValueError:
            return False
    return False


def as_hubspot_has_it(written: Mapping[str, Any], properties: Mapping[str, Any],
                      truth: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """`written` with the values HubSpot actually has for the compared properties (those it
    answered with), and whether any differed from what the connector remembers writing."""
    merged = dict(written)
    edited = False
    for name, kind in truth.items():
        if name not in properties:
            continue
        value = properties[name]
        value = None if value in (None, "") else str(value)
        if _same(value, written.get(name), kind):
            continue
        merged[name] = value
        edited = True
    return merged, edited
