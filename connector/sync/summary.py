"""What a sync pass (or a re-score) did, counted for the closing summary and the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connector.scoring.model import ReadinessScore

SAMPLE_SIZE = 10  # contact diffs kept for a dry run's printout
TOP_ISSUES = 5


def issue_property(issue: str) -> str:
    """The property a data-quality issue is about (never its value: values may be personal)."""
    return issue.split(":", 1)[0].strip() or "unknown"


@dataclass
class SyncSummary:
    """Counts of one pass; `as_dict()` is what `SyncCursor.last_summary` stores."""

    mode: str = "full"
    dry_run: bool = False
    pages: int = 0
    read: int = 0
    scored: int = 0
    changed: int = 0
    written: int = 0
    properties_written: int = 0
    failed: int = 0
    # contacts whose own properties HubSpot had with other values (edited by hand): corrected
    edited_in_hubspot: int = 0
    excluded_contacts: int = 0
    # guardrails that excluded them: one contact may meet several, so these add up to more
    excluded: Counter[str] = field(default_factory=Counter)
    data_quality_contacts: int = 0
    data_quality_issues: Counter[str] = field(default_factory=Counter)
    api_calls: int = 0
    rate_limited: int = 0
    elapsed_s: float = 0.0
    outbox_sent: int = 0
    failed_ids: list[str] = field(default_factory=list)
    # contacts owed a retry from an earlier pass, and those of them this pass settled
    owed: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    sample: list[dict[str, Any]] = field(default_factory=list)

    def count_score(self, readiness: ReadinessScore) -> None:
        """Count one scored contact: exclusions by reason, data-quality issues by property."""
        self.scored += 1
        if readiness.tier == "excluded":
            self.excluded_contacts += 1
            self.excluded.update(readiness.guardrails or ["unknown"])
        if readiness.data_quality_issues:
            self.data_quality_contacts += 1
            self.data_quality_issues.update(
                {issue_property(i) for i in readiness.data_quality_issues})

    def keep_sample(self, contact_id: str, changes: dict[str, list[Any]]) -> None:
        """Keep a few diffs to show what a dry run would write."""
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append({"contact_id": contact_id, "changes": changes})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no contact data beyond a few ids in a dry run's sample)."""
        return {
            "mode": self.mode, "dry_run": self.dry_run, "pages": self.pages,
            "read": self.read, "scored": self.scored, "changed": self.changed,
            "written": self.written, "properties_written": self.properties_written,
            "failed": self.failed, "edited_in_hubspot": self.edited_in_hubspot,
            "excluded_contacts": self.excluded_contacts, "excluded": dict(self.excluded),
            "data_quality_contacts": self.data_quality_contacts,
            "top_data_quality_issues": dict(self.data_quality_issues.most_common(TOP_ISSUES)),
            "api_calls": self.api_calls, "rate_limited": self.rate_limited,
            "elapsed_s": round(self.elapsed_s, 2), "outbox_sent": self.outbox_sent,
        }

    def lines(self) -> list[str]:
        """The closing summary in words, one fact per line."""
        wrote = (f"{self.changed} would be written" if self.dry_run
                 else f"{self.written} written ({self.properties_written} values)")
        out = [
            f"{self.mode} sync{' (dry run)' if self.dry_run else ''}: "
            f"{self.read} contacts read in {self.pages} pages, {self.scored} scored, "
            f"{self.changed} changed, {wrote}"
            + (f", {self.failed} failed (retried next run)" if self.failed else ""),
        ]
        if self.edited_in_hubspot:
            out.append(f"edited in HubSpot: {self.edited_in_hubspot} contacts had other values "
                       "in the connector's properties"
                       + (" (would be corrected)" if self.dry_run else " (corrected)"))
        if self.excluded_contacts:
            reasons = ", ".join(f"{r} {n}" for r, n in self.excluded.most_common())
            several = (" (a contact may meet several)"
                       if sum(self.excluded.values()) > self.excluded_contacts else "")
            out.append(f"excluded: {self.excluded_contacts} contacts; guardrails met{several}: "
                       f"{reasons}")
        if self.data_quality_contacts:
            top = ", ".join(f"{p} {n}" for p, n in self.data_quality_issues.most_common(TOP_ISSUES))
            out.append(f"data-quality issues: {self.data_quality_contacts} contacts (top: {top})")
        if self.outbox_sent:
            out.append(f"outbox: {self.outbox_sent} items sent")
        out.append(f"HubSpot API calls: {self.api_calls}, 429s: {self.rate_limited}, "
                   f"elapsed {self.elapsed_s:.1f}s")
        return out
