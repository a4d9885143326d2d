"""`connector score <contact id or email> [--explain]`: score one contact live from HubSpot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import click

from connector.cli.wiring import build_runtime
from connector.scoring.explain import Explanation, explain_contact


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Plain aligned columns: readable in a terminal and in a pasted support ticket."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def render(contact_id: str, explanation: Explanation, explain: bool) -> list[str]:
    """What `connector score` prints for one contact."""
    readiness = explanation.readiness
    lines = [
        f"contact {contact_id}: score {readiness.score}, tier {readiness.tier}",
        f"reasons: {readiness.reasons}",
    ]
    if readiness.data_quality_issues:
        lines.append("data quality: " + "; ".join(readiness.data_quality_issues))
    if not explain:
        return lines
    signal_rows = [
        (s.key, s.property, "-" if s.raw is None else s.raw, s.transform,
         f"{s.points:g} / {s.most:g}", s.note)
        for s in explanation.signals
    ]
    lines += ["", *_table(("signal", "property", "raw", "transform", "points", "note"),
                          signal_rows)]
    guard_rows = [(g.key, "APPLIES" if g.applied else "no", g.rule) for g in explanation.guardrails]
    if guard_rows:
        lines += ["", *_table(("guardrail", "applied", "rule"), guard_rows)]
    return lines


@click.command()
@click.argument("contact")
@click.option("--explain", is_flag=True, help="Show every signal and guardrail behind the score.")
def score(contact: str, explain: bool) -> None:
    """Score one contact (HubSpot id or email) live from HubSpot; nothing is written."""
    runtime = build_runtime()
    mapping = runtime.mapping
    found = runtime.gateway.get_contact(contact.strip(), mapping.properties)
    if found is None:
        # the argument may be an email address: do not echo it back into logs
        raise click.ClickException("no HubSpot contact has that id or email")
    explanation = explain_contact(found.properties, mapping, datetime.now(UTC))
    for line in render(found.id, explanation, explain):
        click.echo(line)
