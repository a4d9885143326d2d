"""CONTRACT STUB (the sync replaces this): re-read, re-score and write back some contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.runtime import Runtime


@dataclass
class RescoreSummary:
    read: int = 0
    changed: int = 0
    written: int = 0
    missing: list[str] = field(default_factory=list)


def rescore_contacts(
    runtime: Runtime, contact_ids: Sequence[str], *, reason: str
) -> RescoreSummary:
    """Batch-read these contacts from HubSpot, score them, run the program, write the diff."""
    raise NotImplementedError
