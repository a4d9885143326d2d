"""`connector calibrate`: is the readiness score honest on this portal's own referral outcomes,
and which weights would rank advocates better. Proposes; never applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from connector.calibration.analysis import Calibration, Ranking
from connector.calibration.proposal import proposed_mapping
from connector.calibration.ranking import Rate
from connector.cli.wiring import build_runtime
from connector.errors import UserError
from connector.report.calibration import OUTCOMES, CalibrationRun, run_calibration
from connector.runtime import Runtime

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _rates(title: str, rates: list[Rate], outcome: str) -> list[str]:
    lines = [f"  {title:<12} {'scores':>8} {'snapshots':>10} {outcome:>10} {'rate':>7}"]
    for r in rates:
        scores = f"{r.low}-{r.high}" if r.count else "-"
        rate = f"{r.rate:.1%}" if r.rate is not None else "-"
        lines.append(f"  {r.label:<12} {scores:>8} {r.count:>10,} {r.positives:>10,} {rate:>7}")
    return lines


def _ranking(ranking: Ranking, outcome: str) -> list[str]:
    low, high = ranking.interval
    trend = ("rises with the score" if ranking.significant
             else "not distinguishable from chance")
    return [f"score ranking: AUC {ranking.auc:.3f} (95% interval {low:.3f}-{high:.3f}): {trend}",
            *_rates("tier", ranking.tiers, outcome), *_rates("score decile", ranking.deciles,
                                                             outcome)]


def render(run: CalibrationRun) -> list[str]:
    """The terminal summary of one calibration."""
    result: Calibration = run.result
    doc = run.document
    read = doc["snapshots_read"]
    lines = [f"calibration of `{result.outcome}` within {doc['window_days']} days of each ask, "
             f"mapping {doc['mapping']['file']} ({doc['mapping']['version']})",
             f"  {read['total']:,} snapshots read: {result.snapshots:,} with their window ended "
             f"({result.advocates:,} advocates, {result.positives:,} with the outcome), "
             f"{read['window_open']:,} still open, {read['other_mapping']:,} under other "
             "signal definitions"]
    if result.ranking is not None:
        lines += _ranking(result.ranking, result.outcome)
    elif run.provisional is not None:
        lines += ["provisional (open windows counted with what happened so far):",
                  *_ranking(run.provisional, result.outcome)]
    if result.fit is not None:
        lines.append("signals (log-odds per unit of share, 95% interval, range over the "
                     "cross-validation fits; * beyond chance after Bonferroni; "
                     f"C={result.fit.strength:g}):")
        proposal = result.proposal or {}
        for effect in sorted(result.fit.effects, key=lambda e: -e.coefficient):
            low, high = effect.interval
            weight = result.weights.get(effect.signal, 0.0)
            change = (f"weight {weight:g} -> {proposal[effect.signal]:g}"
                      if effect.signal in proposal else f"weight {weight:g}")
            folds = result.fold_coefficients.get(effect.signal) or [effect.coefficient]
            lines.append(f"  {'*' if effect.significant else ' '} {effect.signal:<20} "
                         f"{effect.coefficient:+7.2f} [{low:+.2f}, {high:+.2f}] "
                         f"folds {min(folds):+.2f}..{max(folds):+.2f} "
                         f"p={effect.p_value:.2g}  {change}")
    if result.held_out is not None:
        held = result.held_out
        lines.append(f"held-out AUC (5 folds of advocates): current {held.current:.3f}, "
                     f"proposed {held.proposed:.3f} (better in {held.better_in} of "
                     f"{len(held.folds)} folds)")
    lines.append(result.verdict)
    return lines


def write_proposal(runtime: Runtime, run: CalibrationRun, target: Path) -> None:
    """Write the proposed mapping to `target`, never over the mapping in use."""
    result = run.result
    source = runtime.settings.mapping_path
    if target.resolve() == Path(source).resolve():
        raise UserError(f"{target} is the mapping in use: write the proposal elsewhere, review "
                        "it, then point CONNECTOR_MAPPING at it")
    if result.proposal is None or result.held_out is None:
        raise UserError(f"nothing written to {target}: {result.verdict}")
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{source}: cannot read the mapping file ({exc.strerror})") from None
    written = proposed_mapping(text, runtime.mapping, result.proposal,
                               auc_current=result.held_out.current,
                               auc_proposed=result.held_out.proposed, outcome=result.outcome,
                               today=datetime.now(UTC).date())
    try:
        target.write_text(written, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{target}: cannot write the proposal ({exc.strerror})") from None


@click.command()
@click.option("--since", type=DATE, help="Only snapshots taken on or after this day (YYYY-MM-DD).")
@click.option("--outcome", type=click.Choice(OUTCOMES), default="referred", show_default=True,
              help="referred: referred someone within the window; converted: and they converted.")
@click.option("--window-days", type=click.IntRange(min=1), default=None,
              help="Days after an ask in which its outcome counts (CALIBRATION_WINDOW_DAYS, "
                   "default 30).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--write", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the proposed mapping to this file (never applied by itself).")
def calibrate(since: datetime | None, outcome: str, window_days: int | None, as_json: bool,
              target: Path | None) -> None:
    """Check the readiness score against this portal's referral outcomes; propose weights."""
    runtime = build_runtime()
    run = run_calibration(runtime, outcome=outcome, window_days=window_days,
                          since=since.replace(tzinfo=UTC) if since else None)
    if target is not None:
        write_proposal(runtime, run, target)
    if as_json:
        click.echo(json.dumps({**run.document, "written_to": str(target) if target else None},
                              indent=2))
        return
    for line in render(run):
        click.echo(line)
    if target is not None:
        click.echo(f"proposal written to {target}; review it, then run with "
                   f"CONNECTOR_MAPPING={target}")
