"""Every signal and guardrail behind one contact's score, for `connector score --explain`."""

from __future__ import annotations

from collections.abc import Mapping as PropertyMap
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.scoring.engine import score_contact
from connector.scoring.mapping import Mapping
from connector.scoring.model import ReadinessScore
from connector.scoring.values import as_text, utc_day


@dataclass(frozen=True)
class SignalLine:
    """One signal: what it read, how it transforms, what it earned of its most."""

    key: str
    property: str
    raw: str | None
    transform: str
    points: float
    most: float
    note: str  # the phrase, "missing", or what is malformed


@dataclass(frozen=True)
class GuardrailLine:
    """One guardrail: its rule and whether it applied to this contact."""

    key: str
    reason: str
    rule: str
    applied: bool


@dataclass(frozen=True)
class Explanation:
    """The score as `score_contact` gives it, and the line-by-line detail behind it."""

    readiness: ReadinessScore
    signals: list[SignalLine]
    guardrails: list[GuardrailLine]


def explain_contact(
    properties: PropertyMap[str, Any], mapping: Mapping, now: datetime
) -> Explanation:
    """The score plus a line per signal and per guardrail; as pure as `score_contact`."""
    today = utc_day(now)
    lines = []
    for signal in mapping.signals:
        issues: list[str] = []
        reading = signal.compiled.read(properties, today, issues)
        raw = properties.get(signal.property)
        points = 0.0 if reading is None else reading[0] * signal.points
        if issues:
            note = "; ".join(issues)
        elif reading is None:
            note = "missing"
        else:
            note = signal.phrase(reading[1])
        lines.append(SignalLine(signal.key, signal.property,
                                None if raw is None else as_text(raw)[:60], signal.transform,
                                round(points, 1), round(signal.points, 1), note))
    guards = [GuardrailLine(g.key, g.reason, g.rule, g.check(properties, today, []))
              for g in mapping.guardrails]
    return Explanation(score_contact(properties, mapping, now), lines, guards)
