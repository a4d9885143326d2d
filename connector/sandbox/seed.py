"""A realistic portal from (count, seed): the same contacts for the same seed and day.

Shapes a SaaS portal: about 45% customers, a few evangelists, the rest earlier lifecycle
stages. Signals are correlated: at least a quarter of customers are "happy" (recent NPS
9-10, 15-40 logins, 3-8 milestones, CSAT 4-5, a recent email open, customer for more than
six months, no escalation, no opt-out); some trip each guardrail (recent detractor, open
escalation, opt-out); about 1% carry malformed values, as real portals do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

from connector.sandbox.values import iso_ms

DAY_MS = 86_400_000
_N = [str(i) for i in range(101)]  # shared strings for small numbers keep memory modest

FIRST = ["Ava", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Lucas", "Mia", "Ethan",
         "Amara", "Yuki", "Priya", "Omar", "Chloe", "Jonas", "Elena", "Ravi", "Zoe", "Kofi",
         "Hana", "Diego", "Lena", "Arjun", "Nora", "Felix", "Ines", "Tariq", "Maya", "Leo"]
LAST = ["Smith", "Garcia", "Chen", "Okafor", "Muller", "Rossi", "Tanaka", "Patel", "Kim",
        "Silva", "Novak", "Haddad", "Johansson", "Dubois", "Kowalski", "Nguyen", "Brown",
        "Lopez", "Schmidt", "Ivanova", "Mensah", "Costa", "Fischer", "Ali", "Moreau"]
COMPANIES = ["Acme Analytics", "Brightpath", "Cobalt Labs", "Driftwood", "Evergreen Health",
             "Fjord Logistics", "Granite Works", "Helios Energy", "Ironclad Security",
             "Juniper Retail", "Kestrel Finance", "Lumen Studio", "Meridian Travel",
             "Northwind Foods", "Orbital Robotics", "Pinecone Media", "Quartz Legal",
             "Redwood Realty", "Summit Education", "Tidewater Marine"]
FREEMAIL = ["gmail.com", "outlook.com"]
DISPOSABLE = ["mailinator.com", "guerrillamail.com"]
EARLY_STAGES = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                "opportunity", "other"]


def reference_ms(now: datetime | None) -> int:
    """The seed's "today" in epoch ms: `now`, or today's UTC midnight."""
    if now is None:
        today = datetime.now(UTC).date()
        now = datetime(today.year, today.month, today.day, tzinfo=UTC)
    return int(now.timestamp() * 1000)


def generate_contacts(count: int, seed: int, now: datetime | None = None
                      ) -> Iterator[dict[str, str]]:
    """`count` contacts' property values (strings), deterministic for (count, seed, now)."""
    rng = random.Random(seed)
    today = reference_ms(now)
    for i in range(1, count + 1):
        yield _contact(rng, i, today)


def _contact(rng: random.Random, i: int, today: int) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = rng.choice(COMPANIES)
    roll = rng.random()
    domain = (rng.choice(DISPOSABLE) if roll < 0.01 else rng.choice(FREEMAIL) if roll < 0.2
              else company.lower().replace(" ", "-") + ".com")
    props = {"email": f"{first}.{last}+{i}@{domain}".lower(), "firstname": first,
             "lastname": last, "company": company}
    dates: dict[str, int] = {}
    stage_roll = rng.random()
    if stage_roll < 0.45:
        _customer(rng, props, dates, today, "customer")
    elif stage_roll < 0.48:
        _customer(rng, props, dates, today, "evangelist")
    else:
        _prospect(rng, props, dates, today)
    if rng.random() < 0.01:
        _malform(rng, props, dates)
    for name, ms in dates.items():
        props[name] = iso_ms(ms)
    props["lastmodifieddate"] = iso_ms(min(today, max(dates.values()) + _below(rng, DAY_MS)))
    return props


def _below(rng: random.Random, n: int) -> int:
    # random() is several times faster than randrange() and as good for seed data
    return int(rng.random() * n)


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low))


def _customer(rng: random.Random, props: dict[str, str], dates: dict[str, int], today: int,
              stage: str) -> None:
    profile = "happy" if stage == "evangelist" else rng.choices(
        ["happy", "detractor", "escalation", "optout", "ordinary"], [30, 8, 6, 5, 51])[0]
    tenure_days = _between(rng, 200, 1000) if profile == "happy" else _between(rng, 10, 1000)
    customer_since = today - tenure_days * DAY_MS
    props["lifecyclestage"] = stage
    dates["createdate"] = customer_since - _between(rng, DAY_MS, 90 * DAY_MS)
    dates["hs_lifecyclestage_customer_date"] = customer_since
    props["total_revenue"] = str(_between(rng, 20, 500) * 100)
    if profile == "happy":
        _signals(rng, props, dates, today, nps=rng.choice(["9", "10"]),
                 survey_days=_between(rng, 1, 170), logins=_between(rng, 15, 41),
                 milestones=_between(rng, 3, 9), csat=rng.choice("45"),
                 open_days=_between(rng, 0, 29))
        props["social_mentions_90d"] = _N[rng.choice([0, 0, 1, 2, 3])]
        return
    answered = rng.random() < 0.55
    if profile == "detractor":
        nps, survey_days, answered = str(_between(rng, 0, 7)), _between(rng, 1, 60), True
    else:
        # Unconditioned NPS skews to promoters like real SaaS: ~45% 9-10, ~30% 7-8, ~25% 0-6
        score = rng.choices([_between(rng, 9, 11), _between(rng, 7, 9), _between(rng, 0, 7)],
                            [45, 30, 25])[0]
        nps, survey_days = str(score), rng.choice([_between(rng, 1, 180),
                                                   _between(rng, 180, 730)])
    _signals(rng, props, dates, today, nps=nps if answered else None, survey_days=survey_days,
             logins=_between(rng, 0, 61), milestones=_between(rng, 0, 11),
             csat=rng.choice("12345") if rng.random() < 0.8 else None,
             open_days=_between(rng, 0, 400))
    props["social_mentions_90d"] = _N[rng.choices([0, 1, 2, 3, 4, 5], [70, 12, 8, 5, 3, 2])[0]]
    if profile == "escalation" or rng.random() < 0.02:
        props["open_support_escalations"] = _N[_between(rng, 1, 3)]
    if profile == "optout":
        props["hs_email_optout"] = "true"


def _prospect(rng: random.Random, props: dict[str, str], dates: dict[str, int], today: int
              ) -> None:
    props["lifecyclestage"] = rng.choice(EARLY_STAGES)
    created = today - _between(rng, DAY_MS, 3 * 365 * DAY_MS)
    dates["createdate"] = created
    if rng.random() < 0.6:
        dates["hs_email_last_open_date"] = _between(rng, created, today)
    if rng.random() < 0.05:
        props["hs_email_optout"] = "true"
    if rng.random() < 0.1:
        props["hs_feedback_last_nps_rating"] = _N[_between(rng, 0, 11)]
        dates["hs_feedback_last_survey_date"] = _between(rng, created, today)


def _signals(rng: random.Random, props: dict[str, str], dates: dict[str, int], today: int, *,
             nps: str | None,
             survey_days: int, logins: int, milestones: int, csat: str | None,
             open_days: int) -> None:
    if nps is not None:
        props["hs_feedback_last_nps_rating"] = nps
        dates["hs_feedback_last_survey_date"] = today - survey_days * DAY_MS - _below(rng, DAY_MS)
    props["product_logins_30d"] = _N[logins]
    props["success_milestones_reached"] = _N[milestones]
    props["open_support_escalations"] = _N[0]
    if csat is not None:
        props["support_csat_score"] = csat
    opened = today - open_days * DAY_MS - _below(rng, DAY_MS)
    dates["hs_email_last_open_date"] = opened
    if rng.random() < 0.5:
        dates["hs_email_last_click_date"] = min(today, opened + _below(rng, 3_600_000))


def _malform(rng: random.Random, props: dict[str, str], dates: dict[str, int]) -> None:
    choice = _below(rng, 3)
    if choice == 0:
        props["product_logins_30d"] = "abc"
    elif choice == 1:
        dates.pop("hs_feedback_last_survey_date", None)
        props["hs_feedback_last_survey_date"] = "not-a-date"
    else:
        props["hs_feedback_last_nps_rating"] = "N/A"
