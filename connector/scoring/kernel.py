"""One generated Python function that reads every signal and guardrail of a mapping.

Scoring a contact through the compiled closures costs about 90 Python calls; most are the
readers' and checks' own calls, each paying the interpreter's call overhead. The mapping is
fixed at start, so its common cases (a count such as "12", a zoned ISO datetime, a text or
number guardrail) are written out inline in one function, compiled once. Anything
unusual (a malformed, blank, non-string or future value, or a transform without an inline
form) calls the signal's reader or the guardrail's check, which handle every case and
report data-quality issues: the generated code only ever takes a shortcut to the same
answer (tests/test_scoring_properties.py compares the two on arbitrary input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.scoring.guardrails import Guardrail
    from connector.scoring.signal import Signal

# a contribution that rounds to +0 says nothing to a marketer
MIN_REASON_POINTS = 0.5
# (properties, today, issues) -> (total points, [(-points, signal index, detail)], reasons,
# each signal's share 0..1 in mapping order: 0.0 when absent or malformed)
Kernel = Callable[[Any, float, list[str]],
                  tuple[float, list[Any], list[str], tuple[float, ...]]]

_ACCUMULATE = """\
{pad}if reading is not None:
{pad}    share_{index} = reading[0]
{pad}    points = reading[0] * {most!r}
{pad}    total += points
{pad}    if points >= MIN_POINTS:
{pad}        earned.append((-points, {index}, reading[1]))
"""

_NUMBER = """\
    raw = get({prop!r})
    if raw is not None and raw != "":
        try:
            value = float(raw)
        except (ValueError, TypeError):
            value = NAN  # fails every `holds` test: the reader decides
        if {holds}:
            share_{index} = {share}
            points = share_{index} * {most!r}
            total += points
            if points >= MIN_POINTS:
                earned.append((-points, {index}, value))
        else:
            reading = READ_{index}(properties, today, issues)
{accumulate}"""

_DATE = """\
    raw = get({prop!r})
    if raw is not None and raw != "":
        days = -1.0
        if type(raw) is str and raw.isdigit() and raw.isascii():
            if len(raw) < 16:  # epoch ms, read as the careful parse does (longer may overflow)
                days = today - (int(raw) / 1000.0) // DAY_S
        else:
            try:
                moment = from_iso(raw)
            except (ValueError, TypeError):
                moment = None
            if moment is None:
                pass
            elif moment.tzinfo is UTC or moment.tzinfo is None:
                # a UTC day without timestamp(); a naive value reads as UTC
                days = today - (moment.toordinal() - EPOCH_ORDINAL)
            else:
                days = today - moment.timestamp() // DAY_S
        if days >= 0.0 and {holds}:
            share_{index} = {share}
            points = share_{index} * {most!r}
            total += points
            if points >= MIN_POINTS:
                earned.append((-points, {index}, days))
        else:
            reading = READ_{index}(properties, today, issues)
{accumulate}"""

# The survey's age in whole UTC days (`days`, -1.0 when unreadable), for the common
# spellings; shared by the NPS signal and the recent-detractor guardrail.
_SURVEY_DAYS = """\
if type(survey) is str and survey.isdigit() and survey.isascii():
    if len(survey) < 16:  # epoch ms, read as the careful parse does
        days = today - (int(survey) / 1000.0) // DAY_S
elif type(survey) is str:
    try:
        moment = from_iso(survey)
    except ValueError:
        moment = None
    if moment is not None and (moment.tzinfo is UTC or moment.tzinfo is None):
        days = today - (moment.toordinal() - EPOCH_ORDINAL)
"""


def _survey_days(pad: str, first: str = "if") -> str:
    """The survey-age snippet indented by `pad`, opening with `if` or `elif`."""
    text = _SURVEY_DAYS if first == "if" else "el" + _SURVEY_DAYS
    return "".join(pad + line if line else line for line in text.splitlines(True))


_NPS = """\
    raw = get({prop!r})
    rating = RATINGS.get(raw, -1) if type(raw) is str else -1
    factor = -1.0
    if rating >= 0:
        survey = get({survey!r})
        days = -1.0
        if survey is None or survey == "":
            factor = {undated}
{survey_days}        if days >= 0.0:
            factor = 1.0 if days <= {fresh} else 0.5 ** ((days - {fresh}) / {half_life})
    if factor >= 0.0:
        share_{index} = {scale}[rating] * factor
        points = share_{index} * {most!r}
        total += points
        if points >= MIN_POINTS:
            earned.append((-points, {index}, (rating, round(factor, 2))))
    elif {passive_when_missing} or (raw is not None and raw != ""):
        # a rating that is missing reads as absent unless `missing: passive`
        reading = READ_{index}(properties, today, issues)
{accumulate}"""

_GUARD_TEXT = """\
    text = get({prop!r})
    if text is None or text == "":
        if {when_missing!r}:
            applied.append(REASON_{index})
    elif type(text) is str:
        if {test}:
            applied.append(REASON_{index})
    elif CHECK_{index}(properties, today, issues):
        applied.append(REASON_{index})
"""

_GUARD_NUMBER = """\
    raw = get({prop!r})
    if raw is None or raw == "":
        if {when_missing!r}:
            applied.append(REASON_{index})
    else:
        value = NAN
        if type(raw) is str:
            try:
                value = float(raw)
            except ValueError:
                pass
        if value == value:
            if {test}:
                applied.append(REASON_{index})
        elif CHECK_{index}(properties, today, issues):
            applied.append(REASON_{index})
"""

# an NPS guardrail ("a detractor rating"): the rating spelled "0".."10" inline, and its
# `within_days` date when it is missing or a past epoch-ms, UTC or date-only value; the
# rest (and every value that could be a data-quality issue) goes to the careful check
_GUARD_NPS = """\
    raw = get({prop!r})
    if raw is None or raw == "":
        if {when_missing!r} and CHECK_{index}(properties, today, issues):
            applied.append(REASON_{index})
    else:
        value = RATINGS.get(raw, -1) if type(raw) is str else -1
        if value < 0:
            if CHECK_{index}(properties, today, issues):
                applied.append(REASON_{index})
        elif {test}:
{within}"""

_GUARD_NPS_APPLIES = """\
            applied.append(REASON_{index})
"""

_GUARD_NPS_WITHIN = """\
            survey = get({survey!r})
            days = -1.0
            if survey is None or survey == "":
                if {when_undated!r}:
                    applied.append(REASON_{index})
            else:
{survey_days}                if days >= 0.0:
                    if days <= {days!r}:
                        applied.append(REASON_{index})
                elif CHECK_{index}(properties, today, issues):
                    applied.append(REASON_{index})
"""

_GUARD_CALL = """\
    if CHECK_{index}(properties, today, issues):
        applied.append(REASON_{index})
"""


def build_kernel(signals: Sequence[Signal], guardrails: Sequence[Guardrail],
                 min_points: float = MIN_REASON_POINTS) -> Kernel:
    """Generate and compile the reading function for these signals and guardrails."""
    namespace: dict[str, Any] = {
        "INF": float("inf"), "NAN": float("nan"), "inf": float("inf"), "DAY_S": 86_400.0,
        "from_iso": datetime.fromisoformat, "MIN_POINTS": min_points, "UTC": UTC,
        "EPOCH_ORDINAL": date(1970, 1, 1).toordinal(),
        # "9" and "9.0", as parse_nps reads them; any other spelling goes to the reader
        "RATINGS": {**{str(r): r for r in range(11)}, **{f"{r}.0": r for r in range(11)}},
    }
    lines = ["def kernel(properties, today, issues):", "    get = properties.get",
             "    total = 0.0", "    earned = []"]
    lines += [f"    share_{index} = 0.0" for index in range(len(signals))]
    for index, signal in enumerate(signals):
        namespace[f"READ_{index}"] = signal.compiled.read
        lines.append(_signal_code(index, signal))
    lines.append("    applied = []")
    for index, guardrail in enumerate(guardrails):
        namespace[f"CHECK_{index}"] = guardrail.check
        namespace[f"REASON_{index}"] = guardrail.reason
        lines.append(_guardrail_code(index, guardrail))
    shares = "".join(f"share_{index}, " for index in range(len(signals)))
    lines.append(f"    return total, earned, applied, ({shares})")
    code = compile("\n".join(lines) + "\n", "<readiness kernel>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source; constants are repr()s
    kernel: Kernel = namespace["kernel"]
    return kernel


def _signal_code(index: int, signal: Signal) -> str:
    inline = signal.compiled.inline
    if inline is None:
        return (f"    reading = READ_{index}(properties, today, issues)\n"
                + _ACCUMULATE.format(pad="    ", most=signal.points, index=index))
    if inline[0] == "nps":
        _, survey, scale, fresh, half_life, undated, passive_when_missing = inline
        return _NPS.format(prop=signal.property, survey=survey, scale=scale, fresh=fresh,
                           half_life=half_life, undated=undated, most=signal.points,
                           passive_when_missing=passive_when_missing,
                           survey_days=_survey_days("        ", first="elif"),
                           index=index, accumulate=_ACCUMULATE.format(
                               pad="        ", most=signal.points, index=index))
    kind, holds, share = inline
    template = _NUMBER if kind == "number" else _DATE
    return template.format(prop=signal.property, holds=holds, share=share, most=signal.points,
                           index=index,
                           accumulate=_ACCUMULATE.format(pad="            ", most=signal.points,
                                                         index=index))


def _guardrail_code(index: int, guardrail: Guardrail) -> str:
    if guardrail.inline is None:
        return _GUARD_CALL.format(index=index)
    kind, prop, test, when_missing = guardrail.inline
    if kind == "nps":
        within = guardrail.inline_within
        if within is None:
            then = _GUARD_NPS_APPLIES.format(index=index)
        else:
            survey, days, when_undated = within
            then = _GUARD_NPS_WITHIN.format(survey=survey, days=days, when_undated=when_undated,
                                            index=index, survey_days=_survey_days(" " * 16))
        return _GUARD_NPS.format(prop=prop, test=test, when_missing=when_missing, index=index,
                                 within=then)
    template = _GUARD_TEXT if kind == "text" else _GUARD_NUMBER
    return template.format(prop=prop, test=test, when_missing=when_missing, index=index)
