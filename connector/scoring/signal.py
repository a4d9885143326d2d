"""One compiled signal of the mapping: the property it reads, its transform and its worth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.scoring.transforms import Transform
from connector.scoring.wording import Phrase


@dataclass(frozen=True)
class Signal:
    """One compiled signal: where it reads, how it transforms, what it is worth."""

    key: str
    label: str
    property: str
    transform: str
    weight: float
    points: float  # the most this signal adds to the 0-100 score
    text: str  # reason template, e.g. "{value} logins in 30 days"
    compiled: Transform
    phrase: Phrase

    def describe(self, detail: Any, points: float) -> str:
        """The reason a marketer reads, e.g. "24 logins in 30 days (+20)"."""
        return self.phrase(detail) + " (+" + str(int(points + 0.5)) + ")"
