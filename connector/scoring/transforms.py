"""Signal transforms: a HubSpot property value -> a share (0..1) of the signal's weight.

Each builder checks its options once and returns closures, so scoring a contact does no
option lookups. A reader takes (properties, today, issues), `today` being whole UTC days
since the epoch (`values.utc_day`), and returns None when the signal is absent (missing
value, or a malformed one, which it also appends to `issues` as "property: what is wrong").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.scoring.options import OptionError, Options, check_number
from connector.scoring.values import (
    Malformed,
    age_days,
    as_text,
    format_ago,
    format_duration,
    format_number,
    is_blank,
    parse_boolean,
    parse_nps,
    parse_number,
)

INFINITY = float("inf")
DAY_S = 86_400.0
from_iso = datetime.fromisoformat
Properties = Mapping[str, Any]
Reading = tuple[float, Any]  # (share of the weight 0..1, detail for the reason text)
Reader = Callable[[Properties, float, list[str]], Reading | None]
Convert = Callable[[str, float], Reading]  # raises Malformed
Words = dict[str, Callable[[Any], str]]  # placeholder -> detail -> words

# Default NPS shares per rating 0..10: detractors earn nothing, passives a little, and a 10
# a bit more than a 9 so a higher rating within a band never scores lower.
DEFAULT_NPS_SCALE = (0.0,) * 7 + (0.4, 0.5, 0.9, 1.0)


@dataclass(frozen=True)
class Transform:
    """A compiled transform: how to read it, how to word it, and what it reads."""

    read: Reader
    words: Words
    phrase_key: Callable[[Any], Hashable]  # detail -> what the words depend on (for caching)
    rule: str  # in words, for `connector score --explain`
    reads: tuple[str, ...]  # HubSpot properties read, the signal's own first
    default_text: str
    pure: bool = True  # the reading follows from the signal's own raw value alone
    # for the generated scorer (kernel.py): ("number" | "date", when the inline reading holds,
    # share), Python expressions of `raw` and `value` | `days`, for the common case that
    # `read` gives the same answer for; None: call `read`
    inline: tuple[str, ...] | None = None


def present_text(properties: Properties, prop: str) -> str | None:
    """The property as a non-blank string, or None when missing."""
    raw = properties.get(prop)
    if raw is None:
        return None
    if type(raw) is not str:
        raw = as_text(raw)
    return None if is_blank(raw) else raw


def make_reader(prop: str, convert: Convert) -> Reader:
    """Read `prop`, treat blank as missing, and report a malformed value as an issue."""
    def read(properties: Properties, today: float, issues: list[str]) -> Reading | None:
        raw = properties.get(prop)
        if raw is None or raw == "":
            return None
        if type(raw) is not str:
            raw = as_text(raw)
        try:
            return convert(raw, today)
        except Malformed as exc:
            if not is_blank(raw):  # "  " is a cleared value, not a data error
                issues.append(f"{prop}: {exc}")
            return None
    return read


def fast_date_reader(prop: str, share: Callable[[float], Reading], careful: Reader) -> Reader:
    """A reader for the common shape (an ISO datetime with a zone, in the past) inline;
    anything else (dates, epoch ms, future, junk) goes to the careful reader."""
    def read(properties: Properties, today: float, issues: list[str]) -> Reading | None:
        raw = properties.get(prop)
        if raw is None or raw == "":
            return None
        try:
            moment = from_iso(raw)
        except (ValueError, TypeError):
            return careful(properties, today, issues)
        if moment.tzinfo is None:
            return careful(properties, today, issues)
        days = today - moment.timestamp() // DAY_S
        if days < 0.0:
            return careful(properties, today, issues)
        return share(days)
    return read


def _count(raw: str) -> float:
    """A count: a finite number, not negative."""
    try:
        value = float(raw)
    except ValueError:
        raise Malformed("not a number") from None
    if not 0.0 <= value < INFINITY:
        raise Malformed("below 0" if value < 0 else "not a finite number")
    return value


NUMBER_WORDS: Words = {"value": format_number}
# every age word depends on whole days only, so whole days key the phrase cache
AGE_WORDS: Words = {
    "days": lambda days: str(int(days)), "ago": format_ago, "duration": format_duration,
}


def _same(detail: Any) -> Hashable:
    return detail  # type: ignore[no-any-return]


def _whole_days(days: Any) -> Hashable:
    return int(days)


def build_saturating(prop: str, opts: Options) -> Transform:
    """value / target, capped at 1: counts where "enough" is enough (logins, milestones)."""
    target = opts.number("target", above=0.0)

    def convert(raw: str, today: float) -> Reading:
        value = _count(raw)
        return (1.0 if value >= target else value / target, value)

    careful = make_reader(prop, convert)

    def read(properties: Properties, today: float, issues: list[str]) -> Reading | None:
        # the common shape ("12") inline; anything else goes to the careful reader
        raw = properties.get(prop)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except (ValueError, TypeError):
            return careful(properties, today, issues)
        if 0.0 <= value < INFINITY:
            return (1.0 if value >= target else value / target, value)
        return careful(properties, today, issues)

    return Transform(read, NUMBER_WORDS, _same,
                     f"value / {target:g}, capped at 1", (prop,), "{value} " + prop,
                     inline=("number", "0.0 <= value < INF",
                             f"(1.0 if value >= {target!r} else value / {target!r})"))


def build_range(prop: str, opts: Options) -> Transform:
    """Linear from `low` (0) to `high` (1): a bounded scale such as CSAT 1-5."""
    low = opts.number("low")
    high = opts.number("high")
    if high <= low:
        raise OptionError(opts.key("high"), f"must be above low ({low:g}), not {high:g}")
    span = high - low

    def convert(raw: str, today: float) -> Reading:
        value = parse_number(raw)
        if not low <= value <= high:
            raise Malformed(f"outside {low:g}-{high:g}")
        return ((value - low) / span, value)

    # the careful reader spells a non-string first (as_text): only strings go inline
    return Transform(make_reader(prop, convert), NUMBER_WORDS, _same,
                     f"{low:g} -> 0 ... {high:g} -> 1", (prop,), "{value} " + prop,
                     inline=("number", f"type(raw) is str and {low!r} <= value <= {high!r}",
                             f"(value - {low!r}) / {span!r}"))


def build_recency(prop: str, opts: Options) -> Transform:
    """Half-life decay on a date: 1 today, 0.5 after `half_life_days`, and so on."""
    half_life = opts.number("half_life_days", above=0.0)

    def share(days: float) -> Reading:
        return (0.5 ** (days / half_life), days)

    def convert(raw: str, today: float) -> Reading:
        return share(age_days(raw, today))

    return Transform(fast_date_reader(prop, share, make_reader(prop, convert)), AGE_WORDS,
                     _whole_days,
                     f"halves every {half_life:g} days", (prop,), prop + " {ago}", pure=False,
                     inline=("date", "True", f"0.5 ** (days / {half_life!r})"))


def build_days_since(prop: str, opts: Options) -> Transform:
    """Days since a date / `target_days`, capped at 1: tenure, where longer is better."""
    target = opts.number("target_days", above=0.0)

    def share(days: float) -> Reading:
        return (1.0 if days >= target else days / target, days)

    def convert(raw: str, today: float) -> Reading:
        return share(age_days(raw, today))

    return Transform(fast_date_reader(prop, share, make_reader(prop, convert)), AGE_WORDS,
                     _whole_days,
                     f"days since / {target:g}, capped at 1", (prop,), prop + " {duration}",
                     pure=False,
                     inline=("date", "True",
                             f"(1.0 if days >= {target!r} else days / {target!r})"))


def build_boolean(prop: str, opts: Options) -> Transform:
    """Share `when_true` for true and `when_false` for false (defaults 1 and 0)."""
    when_true = opts.number("when_true", 1.0, low=0.0, high=1.0)
    when_false = opts.number("when_false", 0.0, low=0.0, high=1.0)

    def convert(raw: str, today: float) -> Reading:
        value = parse_boolean(raw)
        return (when_true if value else when_false, value)

    words: Words = {"value": lambda value: "yes" if value else "no"}
    return Transform(make_reader(prop, convert), words, _same,
                     f"true -> {when_true:g}, false -> {when_false:g}", (prop,),
                     prop + " {value}")


def build_enum(prop: str, opts: Options) -> Transform:
    """A share per option value (case-insensitive); an unlisted value is malformed."""
    values = opts.section("values")
    shares: dict[str, tuple[float, str]] = {}
    for label, share in values.raw.items():
        key = values.key(str(label))
        shares[str(label).strip().lower()] = (check_number(share, key, low=0.0, high=1.0),
                                              str(label))
    if not shares:
        raise OptionError(values.path, "must list at least one value")
    listed = ", ".join(label for _, label in shares.values())
    unlisted = f"not one of {listed}"[:120]

    def convert(raw: str, today: float) -> Reading:
        found = shares.get(raw.strip().lower())
        if found is None:
            raise Malformed(unlisted)
        return found

    return Transform(make_reader(prop, convert), {"value": str}, _same, f"one of {listed}"[:80],
                     (prop,), "{value}")


def _nps_scale(opts: Options) -> tuple[float, ...]:
    if not opts.has("scale"):
        return DEFAULT_NPS_SCALE
    section = opts.section("scale")
    scale = list(DEFAULT_NPS_SCALE)
    given: dict[Any, Any] = section.raw
    for rating, share in given.items():
        key = section.key(str(rating))
        if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 10:
            raise OptionError(key, "ratings are whole numbers 0-10")
        scale[rating] = check_number(share, key, low=0.0, high=1.0)
    for rating in range(1, 11):
        if scale[rating] < scale[rating - 1]:
            raise OptionError(section.key(str(rating)),
                              f"must not be below rating {rating - 1}'s share")
    return tuple(scale)


def _nps_band(detail: Any) -> str:
    rating = detail[0]
    if rating is None:
        return "passive (assumed)"
    return "promoter" if rating >= 9 else "passive" if rating >= 7 else "detractor"


NPS_WORDS: Words = {
    "value": lambda detail: "not surveyed" if detail[0] is None else str(detail[0]),
    "band": _nps_band,
    # detail[1] is the survey factor rounded to 2 places (see `read`)
    "discount": lambda detail: f", old survey x{detail[1]:.2f}" if detail[1] < 1.0 else "",
}


def build_nps(prop: str, opts: Options) -> Transform:
    """NPS rating -> share per rating, discounted when the survey is old."""
    scale = _nps_scale(opts)
    # A contact never surveyed is absent by default (see signals.yaml for why);
    # `missing: passive` reads it as a 7 instead, as many health-score recipes do.
    passive_when_missing = opts.choice("missing", ("absent", "passive"), "absent") == "passive"
    survey_prop: str | None = None
    fresh_days = half_life = undated = 0.0
    if opts.has("survey_date"):
        survey = opts.section("survey_date")
        survey_prop = survey.text("property")
        fresh_days = survey.number("full_days", 0.0, low=0.0)
        half_life = survey.number("half_life_days", above=0.0)
        undated = survey.number("undated", 1.0, low=0.0, high=1.0)
        survey.finish()

    def survey_factor(properties: Properties, today: float, issues: list[str]) -> float:
        """1 for a recent survey, less for an old one, `undated` without a date."""
        if survey_prop is None:
            return 1.0
        raw = present_text(properties, survey_prop)
        if raw is None:
            return undated
        try:
            days = age_days(raw, today)
        except Malformed as exc:
            issues.append(f"{survey_prop}: {exc}")
            return undated
        return 1.0 if days <= fresh_days else 0.5 ** ((days - fresh_days) / half_life)

    rating_reader = make_reader(prop, lambda raw, today: (0.0, parse_nps(raw)))

    def read(properties: Properties, today: float, issues: list[str]) -> Reading | None:
        found = rating_reader(properties, today, issues)
        if found is None:
            if passive_when_missing and present_text(properties, prop) is None:
                return (scale[7], (None, 1.0))
            return None
        rating = found[1]
        factor = survey_factor(properties, today, issues)
        # the words show the factor to 2 places; rounding it here keeps them a function
        # of the detail, which is what lets reasons be cached
        return (scale[rating] * factor, (rating, round(factor, 2)))

    rule = "share per rating" + (
        f"; a survey older than {fresh_days:g} days halves every {half_life:g} days"
        if survey_prop else "")
    reads = (prop, survey_prop) if survey_prop else (prop,)
    # inline: a rating spelled "0".."10" and a survey date in the past (or none)
    inline = None if survey_prop is None else (
        "nps", survey_prop, repr(scale), repr(fresh_days), repr(half_life), repr(undated),
        repr(passive_when_missing))
    return Transform(read, NPS_WORDS, _same, rule, reads, "NPS {value}", pure=False,
                     inline=inline)


BUILDERS: dict[str, Callable[[str, Options], Transform]] = {
    "nps": build_nps,
    "saturating": build_saturating,
    "range": build_range,
    "recency": build_recency,
    "days_since": build_days_since,
    "boolean": build_boolean,
    "enum": build_enum,
}
