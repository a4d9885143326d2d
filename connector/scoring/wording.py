"""Reason phrases: a signal's `text` template compiled once into a fast function."""

from __future__ import annotations

from collections.abc import Callable
from string import Formatter
from typing import Any

from connector.scoring.options import OptionError

Phrase = Callable[[Any], str]


def compile_phrase(template: str, words: dict[str, Callable[[Any], str]], key: str) -> Phrase:
    """detail -> the phrase, e.g. "{value} logins in 30 days" -> "24 logins in 30 days"."""
    try:
        pieces = list(Formatter().parse(template))
    except ValueError as exc:
        raise OptionError(key, f"not a valid text template ({exc})") from None
    steps: list[tuple[str, Callable[[Any], str] | None]] = []
    for literal, name, spec, conversion in pieces:
        if name is None:
            steps.append((literal, None))
            continue
        if name not in words:
            allowed = ", ".join("{" + w + "}" for w in words)
            raise OptionError(key, f"unknown placeholder {{{name}}} (use {allowed})")
        if spec or conversion:
            raise OptionError(key, f"write {{{name}}} without a format or conversion")
        steps.append((literal, words[name]))
    first = steps[0][1] if steps else None
    if len(steps) == 1 and first is not None:
        prefix = steps[0][0]
        return lambda detail: prefix + first(detail)  # the common cases, kept cheap
    if len(steps) == 2 and first is not None and steps[1][1] is None:
        prefix, suffix = steps[0][0], steps[1][0]
        return lambda detail: prefix + first(detail) + suffix

    def phrase(detail: Any) -> str:
        return "".join(literal + (word(detail) if word else "") for literal, word in steps)

    return phrase
