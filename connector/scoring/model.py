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
class ScoreBasis:
    """Which mapping a score came from: its version (a hash of the whole mapping), the
    version of what its signals' shares mean (the same hash without weights, tiers, guardrails
    and wording: shares stay comparable when only the weights change) and its signal keys."""

    mapping_version: str
    signals_version: str
    signals: tuple[str, ...]


@dataclass(frozen=True)
class ReadinessScore:
    """Score 0-100, tier, reasons text, and the detail behind them."""

    score: int
    tier: str
    reasons: str
    contributions: list[Contribution] = field(default_factory=list)
    guardrails: list[str] = field(default_factory=list)  # the guardrail reasons that applied
    data_quality_issues: list[str] = field(default_factory=list)  # e.g. "product_logins_30d: 'abc'"
    # each signal's share 0..1 as scoring computed it, in `basis.signals` order (no raw values)
    shares: tuple[float, ...] = field(default=(), compare=False)
    basis: ScoreBasis | None = field(default=None, compare=False)

    def signal_shares(self) -> dict[str, float]:
        """{signal key: share 0..1}; empty when the score was not made by a mapping."""
        if self.basis is None:
            return {}
        return dict(zip(self.basis.signals, self.shares, strict=True))
