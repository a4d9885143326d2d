"""Proposed weights: the fitted coefficients (none below 0) re-scaled to the mapping's total,
and the mapping file with those weights and nothing else changed."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from connector.errors import UserError
from connector.scoring.mapping import Mapping, compile_mapping

# a section of the mapping that calibration must leave as it is
UNTOUCHED = ("guardrails", "tiers", "reasons", "version")


class ProposalError(UserError):
    """The proposed mapping could not be written as a valid mapping file."""


def proposed_weights(coefficients: dict[str, float], mapping: Mapping) -> dict[str, float]:
    """Weights proportional to each signal's coefficient (a negative one counts as 0), adding up
    to the mapping's total; whole numbers when the mapping's weights are whole. An empty dict
    when no signal raises the outcome."""
    current = {s.key: s.weight for s in mapping.signals}
    total = sum(current.values())
    positive = {key: max(coefficients.get(key, 0.0), 0.0) for key in current}
    raised = sum(positive.values())
    if raised <= 0:
        return {}
    exact = {key: value * total / raised for key, value in positive.items()}
    if not all(float(w).is_integer() for w in current.values()):
        return {key: round(value, 1) for key, value in exact.items()}
    # largest remainder: whole numbers that still add up to the total
    floors = {key: math.floor(value) for key, value in exact.items()}
    left = int(round(total)) - sum(floors.values())
    for key in sorted(exact, key=lambda k: exact[k] - floors[k], reverse=True)[:left]:
        floors[key] += 1
    return {key: float(value) for key, value in floors.items()}


def _signal_of(line: str, indent: int | None) -> tuple[str, int] | None:
    match = re.match(r"^( +)([A-Za-z0-9_\-]+):\s*(#.*)?$", line)
    if match and (indent is None or len(match.group(1)) == indent):
        return match.group(2), len(match.group(1))
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def rewrite_weights(text: str, weights: dict[str, float], note: str) -> str:
    """The mapping's text with each signal's `weight:` line replaced (its old value in a
    comment); every other line kept as written. Falls back to a plain YAML dump when the file
    is not laid out in blocks."""
    lines = text.splitlines(keepends=True)
    out, section, signal, indent, done = [], False, None, None, set()
    for line in lines:
        if re.match(r"^signals:\s*(#.*)?$", line):
            section = True
        elif re.match(r"^\S", line) and not line.startswith("#"):
            section = False
        elif section:
            found = _signal_of(line, indent)
            if found is not None:
                signal, indent = found
            weight = re.match(r"^(\s+)weight:\s*([^\s#]+)", line)
            if weight and signal in weights and len(weight.group(1)) > (indent or 0):
                old = weight.group(2)
                line = (f"{weight.group(1)}weight: {_number(weights[signal])}"
                        f"    # calibrated (was {old})\n")
                done.add(signal)
        out.append(line)
    if done != set(weights):
        raw = yaml.safe_load(text)
        for key, value in weights.items():
            raw["signals"][key]["weight"] = value
        return f"# {note}\n" + yaml.safe_dump(raw, sort_keys=False)
    return f"# {note}\n" + "".join(out)


def proposed_mapping(text: str, mapping: Mapping, weights: dict[str, float], *,
                     auc_current: float, auc_proposed: float, outcome: str,
                     today: date) -> str:
    """A complete mapping file with the proposed weights, checked: it compiles, its weights are
    the proposal's, and its guardrails, tiers and reasons are the current file's."""
    note = (f"Weights proposed by `connector calibrate --outcome {outcome}` on "
            f"{today.isoformat()}: held-out AUC {auc_current:.3f} with the current weights, "
            f"{auc_proposed:.3f} with these. Review before use (CONNECTOR_MAPPING=<this file>).")
    new_text = rewrite_weights(text, weights, note)
    before: Any = yaml.safe_load(text)
    after: Any = yaml.safe_load(new_text)
    for section in UNTOUCHED:
        if (before or {}).get(section) != (after or {}).get(section):
            raise ProposalError(f"the proposed mapping would change `{section}`; nothing written")
    try:
        compiled = compile_mapping(after, Path(mapping.source))
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not usable
        raise ProposalError(f"the proposed mapping does not compile ({exc})") from None
    got = {s.key: s.weight for s in compiled.signals}
    if any(abs(got[key] - value) > 1e-9 for key, value in weights.items()):
        raise ProposalError("the proposed mapping lost a weight; nothing written")
    return new_text
