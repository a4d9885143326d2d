"""Guardrails: conditions on a contact that force tier `excluded`, each with its reason.

One property, one comparison (`in`, `not_in`, `equals`, `above`, `at_least`, `below`,
`at_most`), and optionally `within_days` on a date property, so "a detractor rating in the
last 90 days" is one guardrail. Text comparisons ignore case and surrounding spaces.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from connector.scoring.options import OptionError, Options, check_number
from connector.scoring.transforms import Properties, present_text
from connector.scoring.values import Malformed, age_days, as_text, is_blank, parse_nps

Check = Callable[[Properties, float, list[str]], bool]

TEXT_TESTS = ("in", "not_in", "equals")
NUMBER_TESTS = ("above", "at_least", "below", "at_most")


@dataclass(frozen=True)
class Guardrail:
    """A compiled guardrail: `check(properties, today, issues)` says whether it applies."""

    key: str
    reason: str
    check: Check
    rule: str  # in words, for `connector score --explain`
    reads: tuple[str, ...]
    # for the generated scorer (kernel.py): ("text" | "number", property, test as a Python
    # expression of `text` | `value`, applies when missing); None: call `check`
    inline: tuple[str, str, str, bool] | None = None
    # with inline kind "nps": the `within_days` limit as (date property, days, when
    # undated), or None when the guardrail has no such limit
    inline_within: tuple[str, float, bool] | None = None


def _scalar_text(value: object, key: str) -> str:
    if value is None or isinstance(value, list | dict):
        raise OptionError(key, "must be a text or a number")
    return as_text(value).strip().lower()


COMPARE = {"above": operator.gt, "at_least": operator.ge, "below": operator.lt,
           "at_most": operator.le}


def _number_reader(read_as: str) -> Callable[[str], float]:
    if read_as == "nps":
        return lambda text: float(parse_nps(text))

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise Malformed("not a number") from None
        if value != value:  # NaN compares false with everything: say so instead
            raise Malformed("not a finite number")
        return value

    return number


SYMBOLS = {"above": ">", "at_least": ">=", "below": "<", "at_most": "<="}


def _value_test(opts: Options, test: str) -> tuple[Callable[[str], bool], str, tuple[str, str]
                                                   | None]:
    """(test on the raw text, rule in words, inline (kind, expression) or None)."""
    key = opts.key(test)
    if test in TEXT_TESTS:
        opts.choice("read_as", ("text",), "text")
        raw = opts.get(test)
        if test == "equals":
            wanted = _scalar_text(raw, key)
            return ((lambda text: text.strip().lower() == wanted), f"= {wanted}",
                    ("text", f"text.strip().lower() == {wanted!r}"))
        if not isinstance(raw, list) or not raw:
            raise OptionError(key, "must be a non-empty list")
        listed = frozenset(_scalar_text(v, f"{key}[{i}]") for i, v in enumerate(raw))
        words = ", ".join(sorted(listed))
        if test == "in":
            return ((lambda text: text.strip().lower() in listed), f"in {words}",
                    ("text", f"text.strip().lower() in {listed!r}"))
        return ((lambda text: text.strip().lower() not in listed), f"not in {words}",
                ("text", f"text.strip().lower() not in {listed!r}"))
    read_as = opts.choice("read_as", ("number", "nps"), "number")
    bound = check_number(opts.get(test), key)
    compare = COMPARE[test]
    parse = _number_reader(read_as)
    # an NPS rating compares as a number once read ("9" and "9.0" inline, as parse_nps does)
    inline = (read_as, f"value {SYMBOLS[test]} {bound!r}")
    return ((lambda text: compare(parse(text), bound)), f"{test.replace('_', ' ')} {bound:g}",
            inline)


def build_guardrail(opts: Options) -> Guardrail:
    """Compile one guardrail section of the mapping."""
    key = opts.path.rsplit(".", 1)[-1]
    reason = opts.text("reason")
    prop = opts.text("property")
    tests = [t for t in TEXT_TESTS + NUMBER_TESTS if opts.has(t)]
    if len(tests) != 1:
        listed = ", ".join(TEXT_TESTS + NUMBER_TESTS)
        raise OptionError(opts.path, f"needs exactly one of {listed}, found {len(tests)}")
    test = tests[0]
    matches, rule, inline = _value_test(opts, test)
    # No value cannot prove "is a customer", but it cannot prove an escalation either.
    when_missing = opts.choice("when_missing", ("apply", "skip"),
                               "apply" if test == "not_in" else "skip") == "apply"
    within = _within_days(opts) if opts.has("within_days") else None
    within_inline = within[3] if within else None
    opts.finish()
    rule = f"{prop} {rule}" + (f" ({within[2]})" if within else "")

    def check(properties: Properties, today: float, issues: list[str]) -> bool:
        raw = properties.get(prop)
        if raw is None or raw == "":
            applies = when_missing
        else:
            if type(raw) is not str:
                raw = as_text(raw)
            try:
                applies = matches(raw)
            except Malformed as exc:
                if not is_blank(raw):
                    issues.append(f"{prop}: {exc}")
                applies = when_missing
        if applies and within is not None:
            return within[0](properties, today, issues)
        return applies

    reads = (prop, within[1]) if within else (prop,)
    # a date limit inlines for an NPS guardrail only (the detractor rule's shape)
    fast = None if inline is None or (within and inline[0] != "nps") else (
        inline[0], prop, inline[1], when_missing)
    return Guardrail(key, reason, check, rule, reads, fast, within_inline)


def _within_days(opts: Options) -> tuple[Check, str, str, tuple[str, float, bool]]:
    """Limit a guardrail to a recent date; an undated one applies unless told otherwise."""
    section = opts.section("within_days")
    prop = section.text("property")
    days = section.number("days", above=0.0)
    when_undated = section.choice("when_undated", ("apply", "skip"), "apply") == "apply"
    section.finish()

    def recent(properties: Properties, today: float, issues: list[str]) -> bool:
        raw = present_text(properties, prop)
        if raw is None:
            return when_undated
        try:
            return age_days(raw, today) <= days
        except Malformed as exc:
            issues.append(f"{prop}: {exc}")
            return when_undated

    return recent, prop, f"{prop} within {days:g} days", (prop, days, when_undated)
