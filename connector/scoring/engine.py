"""Score one contact: properties + mapping -> readiness score, tier and reasons. No I/O."""

from __future__ import annotations

from collections.abc import Mapping as PropertyMap
from datetime import datetime
from typing import Any

from connector.scoring.mapping import Mapping
from connector.scoring.model import Contribution, ReadinessScore
from connector.scoring.values import as_text, utc_day

NO_SIGNALS = "no readiness signals yet"
# reason phrases repeat across a portal ("NPS 10 (+30)"); beyond this many, stop caching
PHRASE_CACHE_LIMIT = 20_000
# a frozen result without its generated __init__ (fields filled
# directly, every one of them)
_new = object.__new__


# the last `now` and its UTC day: a sync scores a whole page at one `now`
_last_day: tuple[datetime | None, float] = (None, 0.0)


def score_contact(
    properties: PropertyMap[str, Any], mapping: Mapping, now: datetime
) -> ReadinessScore:
    """Score 0-100, tier and reasons for one contact's HubSpot properties; never raises."""
    global _last_day
    last = _last_day
    if last[0] is now:
        today = last[1]
    else:
        today = utc_day(now)
        _last_day = (now, today)
    issues: list[str] = []
    # every signal's points and every guardrail, read by the mapping's generated function
    total, earned, applied, shares = mapping.kernel(properties, today, issues)
    score = int(total + 0.5)
    score = 0 if score < 0 else 100 if score > 100 else score
    # the score stays visible when excluded: it says how ready the contact is once the
    # guardrail lifts (escalation closed, consent given), while the tier keeps them out
    tier = "excluded" if applied else mapping.tier_by_score[score]
    if len(earned) > 1:
        earned.sort()  # most points first; ties in mapping order
    texts: list[str] = []
    contributions = _contributions(properties, mapping, earned[: mapping.max_reasons], texts)
    # the common case (reasons that fit) without the bounding pass of reasons_text
    reasons = "; ".join(
        texts + [reason + " (excluded)" for reason in applied] if applied else texts)
    if len(reasons) > mapping.max_reason_chars:
        reasons = reasons_text(texts, applied, mapping.max_reason_chars)
    elif not reasons:
        reasons = NO_SIGNALS
    if len(issues) > 1:
        issues = list(dict.fromkeys(issues))  # a value read by a signal and a guardrail
    result: ReadinessScore = _new(ReadinessScore)
    # every field filled directly (a frozen __init__ pays one __setattr__ per field)
    result.__dict__.update(score=score, tier=tier, reasons=reasons, contributions=contributions,
                           guardrails=applied, data_quality_issues=issues, shares=shares,
                           basis=mapping.basis)
    return result


def _contributions(
    properties: PropertyMap[str, Any], mapping: Mapping, top: list[tuple[float, int, Any]],
    texts: list[str],
) -> list[Contribution]:
    """Words only for the contributions that make the reasons (their texts go to `texts`)."""
    found = []
    cache = mapping.phrase_cache
    known_contributions = mapping.contribution_cache
    wording = mapping.wording
    get = properties.get
    for negative_points, index, detail in top:
        key, prop, pure, phrase_key, describe = wording[index]
        raw = get(prop)
        cache_key = (index, raw) if pure and type(raw) is str else None
        if cache_key is not None:
            # the whole contribution follows from the raw value: reuse it (it is frozen)
            known = known_contributions.get(cache_key)
            if known is not None:
                found.append(known)
                texts.append(known.text)
                continue
        points = -negative_points
        phrase = (index, phrase_key(detail), int(points + 0.5))
        text = cache.get(phrase)
        if text is None:
            text = describe(detail, points)
            if len(cache) < PHRASE_CACHE_LIMIT:
                cache[phrase] = text
        contribution: Contribution = _new(Contribution)
        contribution.__dict__.update(
            signal=key, property=prop,
            raw=raw if raw is None or type(raw) is str else as_text(raw),
            points=int(points * 10.0 + 0.5) / 10.0,  # round(x, 1) is 5x slower
            text=text,
        )
        if cache_key is not None and len(known_contributions) < PHRASE_CACHE_LIMIT:
            known_contributions[cache_key] = contribution
        found.append(contribution)
        texts.append(text)
    return found


def reasons_text(contributions: list[str], guardrails: list[str], max_chars: int) -> str:
    """"NPS 10 (+30); 24 logins in 30 days (+20); open escalation (excluded)", bounded."""
    parts = list(contributions)
    if guardrails:
        parts += [reason + " (excluded)" for reason in guardrails]
    joined = "; ".join(parts)
    if len(joined) <= max_chars:
        return joined or NO_SIGNALS
    # too long: the guardrails stay (they are why the contact is out), contributions go
    tail = [reason + " (excluded)" for reason in guardrails]
    kept: list[str] = []
    used = sum(len(t) + 2 for t in tail)
    for text in contributions:
        if used + len(text) + 2 > max_chars:
            break
        kept.append(text)
        used += len(text) + 2
    joined = "; ".join(kept + tail)
    if len(joined) > max_chars:
        joined = joined[: max_chars - 3].rstrip() + "..."
    return joined
