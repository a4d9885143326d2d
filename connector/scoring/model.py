"""What scoring produces for one contact (the scoring package fills in how)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

TIERS = ("champion", "ready", "nurture", "not_ready", "excluded")
T = TypeVar("T")


@dataclass(frozen=True)
class Contribution:
    """One signal's part in the score, in words a marketer reads."""

    signal: str
    property: str
    raw: str | None
    points: float
    text: str  # e.g. "NPS 10 (+35)"


@dataclass(frozen=True)
class ReadinessScore:
    """Score 0-100, tier, reasons text, and the detail behind them."""

    score: int
    tier: str
    reasons: str
    contributions: list[Contribution] = field(default_factory=list)
    guardrails: list[str] = field(default_factory=list)  # the guardrail reasons that applied
    data_quality_issues: list[str] = field(default_factory=list)  # e.g. "product_logins_30d: 'abc'"
