"""Readiness scoring throughput on one core: contacts scored per second.

Generates N contacts' properties as HubSpot sends them (strings: ISO datetimes, dates,
epoch milliseconds, numbers as "12" or "12.0", some missing, a few malformed), scores
them with the default mapping, and prints one JSON line. Generation is not timed.

"One core" is measured as this process's CPU time, best of --repeats passes (as timeit
does): on a machine shared with other work, wall time measures the neighbours too. The
load average and the cost of one empty Python call are printed so a slow run on a busy
or slow machine reads as such.

    python benchmarks/score_throughput.py [--contacts 200000] [--repeats 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.scoring.engine import score_contact  # noqa: E402
from connector.scoring.mapping import load_mapping  # noqa: E402

TARGET_PER_S = 50_000
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MAPPING = Path(__file__).resolve().parent.parent / "mappings" / "signals.yaml"
STAGES = ["customer"] * 7 + ["evangelist", "lead", "opportunity", "subscriber"]


def _instant(rng: random.Random, max_days: int) -> str:
    """A past instant in one of HubSpot's three spellings, mostly ISO as the v3 API sends."""
    moment = NOW - timedelta(days=rng.uniform(0, max_days))
    kind = rng.random()
    if kind < 0.75:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if kind < 0.9:
        return moment.strftime("%Y-%m-%d")
    return str(int(moment.timestamp() * 1000))


def _maybe(rng: random.Random, present: float, value: str) -> str | None:
    return value if rng.random() < present else None


def contact_properties(rng: random.Random) -> dict[str, str | None]:
    """One contact's properties: realistic shapes, about 1% junk per property."""
    props: dict[str, str | None] = {
        "lifecyclestage": rng.choice(STAGES),
        "hs_lifecyclestage_customer_date": _maybe(rng, 0.8, _instant(rng, 1500)),
        "hs_feedback_last_nps_rating": _maybe(rng, 0.6, rng.choice(
            [str(rng.randint(0, 10))] * 4 + [f"{rng.randint(0, 10)}.0"])),
        "hs_feedback_last_survey_date": _maybe(rng, 0.6, _instant(rng, 700)),
        "hs_email_last_open_date": _maybe(rng, 0.7, _instant(rng, 200)),
        "hs_email_last_click_date": _maybe(rng, 0.5, _instant(rng, 300)),
        "hs_email_optout": rng.choice(["false"] * 9 + ["true", None]),
        "product_logins_30d": _maybe(rng, 0.8, str(rng.randint(0, 60))),
        "success_milestones_reached": _maybe(rng, 0.7, str(rng.randint(0, 9))),
        "social_mentions_90d": _maybe(rng, 0.4, str(rng.randint(0, 6))),
        "open_support_escalations": rng.choice(["0"] * 8 + ["1", "", None]),
        "support_csat_score": _maybe(rng, 0.6, rng.choice(["1", "2", "3", "4", "5", "4.5"])),
    }
    for name in props:
        if rng.random() < 0.01:
            props[name] = rng.choice(["abc", "N/A", "2025-13-45", "-3", "1e999", " "])
    return props


def reference_call_ns() -> float:
    """What one empty Python function call costs here: how fast this interpreter runs."""
    def nothing() -> None:
        return None

    calls = 1_000_000
    started = time.process_time()
    for _ in range(calls):
        nothing()
    return (time.process_time() - started) / calls * 1e9


def main() -> None:
    """Generate, score, print one JSON line with the ratio to the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    contacts = [contact_properties(rng) for _ in range(args.contacts)]
    passes = []
    for _ in range(max(1, args.repeats)):
        mapping = load_mapping(MAPPING)  # a fresh mapping each pass: its caches start empty
        started, wall = time.process_time(), time.perf_counter()
        for props in contacts:
            score_contact(props, mapping, NOW)
        passes.append((time.process_time() - started, time.perf_counter() - wall))
    seconds, wall_seconds = min(passes)
    per_s = args.contacts / seconds
    print(json.dumps({
        "contacts": args.contacts,
        "seconds": round(seconds, 3),
        "contacts_per_s": round(per_s),
        "target_per_s": TARGET_PER_S,
        "ratio": round(per_s / TARGET_PER_S, 3),
        "wall_seconds": round(wall_seconds, 3),
        "repeats": len(passes),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "reference_call_ns": round(reference_call_ns(), 1),
    }))


if __name__ == "__main__":
    main()
