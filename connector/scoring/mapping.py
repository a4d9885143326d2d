"""The signal mapping (mappings/signals.yaml), validated and compiled once at start."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.errors import UserError
from connector.scoring.guardrails import Check, Guardrail, build_guardrail
from connector.scoring.kernel import Kernel, build_kernel
from connector.scoring.model import TIERS, Contribution, ScoreBasis
from connector.scoring.options import OptionError, Options, check_number
from connector.scoring.signal import Signal
from connector.scoring.transforms import BUILDERS
from connector.scoring.wording import compile_phrase

THRESHOLD_TIERS = tuple(t for t in TIERS if t != "excluded")
REQUIRED_TIERS = ("champion", "ready", "nurture")
# what a signal's share does not depend on: its worth and its words
NOT_IN_SHARES = ("weight", "label", "text")


class MappingError(UserError):
    """The mapping file is malformed: the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Mapping:
    """Signals, guardrails and tier thresholds; `properties` lists what to read from HubSpot."""

    source: Path
    signals: tuple[Signal, ...]
    guardrails: tuple[Guardrail, ...]
    thresholds: tuple[tuple[float, str], ...]  # (lowest score, tier), highest first
    properties: list[str]
    max_reasons: int = 3
    max_reason_chars: int = 400
    # hashes of the mapping's content (see `mapping_versions`); kept on snapshots
    version: str = ""
    signals_version: str = ""
    # precompiled for the hot loop: (reason, check) per guardrail; phrases already worded
    # ({(signal index, phrase key, points): text}) and contributions of signals that depend
    # on their raw value alone ({(index, raw): ...})
    checks: tuple[tuple[str, Check], ...] = field(init=False, repr=False)
    kernel: Kernel = field(init=False, repr=False, compare=False)  # signals and checks in one
    tier_by_score: tuple[str, ...] = field(init=False, repr=False, compare=False)  # 0..100
    basis: ScoreBasis = field(init=False, repr=False, compare=False)  # on every result
    # per signal: (key, property, pure, phrase key, describe), read when wording a reason
    wording: tuple[tuple[str, str, bool, Callable[[Any], Hashable],
                         Callable[[Any, float], str]], ...] = field(init=False, repr=False)
    phrase_cache: dict[tuple[int, Hashable, int], str] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    contribution_cache: dict[tuple[int, str], Contribution] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", tuple((g.reason, g.check) for g in self.guardrails))
        object.__setattr__(self, "kernel", build_kernel(self.signals, self.guardrails))
        object.__setattr__(self, "tier_by_score", tuple(self.tier_for(s) for s in range(101)))
        object.__setattr__(self, "basis", ScoreBasis(self.version, self.signals_version,
                                                     tuple(s.key for s in self.signals)))
        object.__setattr__(self, "wording", tuple(
            (s.key, s.property, s.compiled.pure, s.compiled.phrase_key, s.describe)
            for s in self.signals))

    def tier_for(self, score: int) -> str:
        """The tier a score reaches when no guardrail applies."""
        for threshold, tier in self.thresholds:
            if score >= threshold:
                return tier
        return "not_ready"


def load_mapping(path: Path) -> Mapping:
    """Read and validate the mapping; raise MappingError naming file, key and problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise MappingError(f"{path}: not valid YAML{where}: {problem}") from None
    if raw is None:
        raise MappingError(f"{path}: the mapping file is empty")
    try:
        return compile_mapping(raw, path)
    except OptionError as exc:
        raise MappingError(f"{path}: {' '.join(str(exc).split())}") from None


def compile_mapping(raw: object, source: Path) -> Mapping:
    """Build a Mapping from parsed YAML; OptionError names the key that is wrong."""
    root = Options(raw, "")
    version = root.get("version", 1)
    if version != 1:
        raise OptionError("version", f"this connector reads version 1, not {version!r}")
    signals = _signals(root.section("signals"))
    guardrails = _guardrails(root)
    thresholds = _thresholds(root.section("tiers"))
    max_items, max_chars = 3, 400
    if root.has("reasons"):
        reasons = root.section("reasons")
        max_items = int(reasons.number("max_items", 3, low=1, high=10))
        # the reasons land in a HubSpot textarea: stay well under 1,000 characters
        max_chars = int(reasons.number("max_chars", 400, low=80, high=900))
        reasons.finish()
    root.finish()
    reads = {p for s in signals for p in s.compiled.reads}
    reads.update(p for g in guardrails for p in g.reads)
    version, signals_version = mapping_versions(raw)
    return Mapping(source, signals, guardrails, thresholds, sorted(reads), max_items, max_chars,
                   version, signals_version)


def _canonical(raw: object) -> object:
    """Parsed YAML with every key a string, for a stable JSON spelling."""
    if isinstance(raw, dict):
        return {str(k): _canonical(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_canonical(v) for v in raw]
    return raw


def _digest(raw: object) -> str:
    text = json.dumps(_canonical(raw), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mapping_versions(raw: object) -> tuple[str, str]:
    """(version of the whole mapping, version of what its signals' shares mean).

    Hashes of the parsed content, so a comment or a reordered key changes neither; the second
    leaves out weights, labels and texts (and guardrails, tiers, reasons): shares taken under
    one weighting stay comparable under another.
    """
    signals = raw.get("signals") if isinstance(raw, dict) else None
    shares = {str(key): {k: v for k, v in body.items() if k not in NOT_IN_SHARES}
              if isinstance(body, dict) else body
              for key, body in (signals or {}).items()} if isinstance(signals, dict) else signals
    return _digest(raw), _digest({"signals": shares, "order": list(shares or [])})


def _signals(section: Options) -> tuple[Signal, ...]:
    if not section.raw:
        raise OptionError(section.path, "declare at least one signal")
    drafts = []
    for key in section.raw:
        opts = section.section(str(key))
        prop = opts.text("property")
        name = opts.text("transform")
        builder = BUILDERS.get(name)
        if builder is None:
            raise OptionError(opts.key("transform"),
                              f"unknown transform {name!r} (use {', '.join(sorted(BUILDERS))})")
        if not opts.has("weight"):
            raise OptionError(opts.key("weight"), "missing")
        weight = check_number(opts.get("weight"), opts.key("weight"), low=0.0)
        compiled = builder(prop, opts)
        text = opts.text("text", compiled.default_text)
        phrase = compile_phrase(text, compiled.words, opts.key("text"))
        label = opts.text("label", str(key).replace("_", " "))
        opts.finish()
        drafts.append((str(key), label, prop, name, weight, text, compiled, phrase))
    total = sum(d[4] for d in drafts)
    if total <= 0:
        raise OptionError(section.path, "the weights add up to 0; give a signal some weight")
    # weights are relative: scaled so a contact maxing every signal scores 100
    return tuple(
        Signal(key, label, prop, name, weight, weight * 100.0 / total, text, compiled, phrase)
        for key, label, prop, name, weight, text, compiled, phrase in drafts
    )


def _guardrails(root: Options) -> tuple[Guardrail, ...]:
    if not root.has("guardrails") or root.get("guardrails") is None:
        return ()
    section = root.section("guardrails")
    return tuple(build_guardrail(section.section(str(key))) for key in section.raw)


def _thresholds(section: Options) -> tuple[tuple[float, str], ...]:
    for tier in section.raw:
        if tier == "excluded":
            raise OptionError(section.key("excluded"),
                              "excluded comes from the guardrails, not from a threshold")
        if tier not in THRESHOLD_TIERS:
            raise OptionError(section.key(str(tier)),
                              f"unknown tier (use {', '.join(THRESHOLD_TIERS)})")
    for tier in REQUIRED_TIERS:
        if tier not in section.raw:
            raise OptionError(section.key(tier), "missing")
    thresholds: list[tuple[float, str]] = []
    for tier in THRESHOLD_TIERS:
        if tier not in section.raw:
            continue
        value = section.number(tier, low=0.0, high=100.0)
        if thresholds and value >= thresholds[-1][0]:
            above = thresholds[-1]
            raise OptionError(section.key(tier), f"thresholds must descend: {value:g} is not "
                              f"below {above[1]}'s {above[0]:g}")
        thresholds.append((value, tier))
    section.finish()
    return tuple(thresholds)
