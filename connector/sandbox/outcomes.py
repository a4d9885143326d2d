"""An outcome model for the sandbox: a seeded portal of customers whose hidden propensity to
refer depends on a known subset of their signals, so `connector calibrate` can be checked
against a truth.

The portal's customers draw each signal independently (NPS, logins, milestones, CSAT, email
engagement, social mentions, tenure), so a signal's effect can be told apart from another's.
Each carries a propensity: the chance that, once asked, it refers someone within a month.
The `truth` model makes it depend strongly on the NPS rating and on milestones and not at all
on anything else (social mentions included); the `random` model gives everyone the same
chance. The propensity is kept by the sandbox, never sent over its API: the connector cannot
see it, only what the advocates do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connector.sandbox.seed import DAY_MS, FIRST, LAST, reference_ms
from connector.sandbox.values import iso_ms


def _number(props: Mapping[str, str], name: str) -> float:
    try:
        return float(props.get(name) or 0.0)
    except ValueError:
        return 0.0


# what the truth is stated in: the contact's own HubSpot values, each brought to 0..1
# (not the connector's transforms: the truth does not know how the connector scores)
FEATURES: dict[str, Callable[[Mapping[str, str]], float]] = {
    "nps": lambda p: _number(p, "hs_feedback_last_nps_rating") / 10.0,
    "milestones": lambda p: min(_number(p, "success_milestones_reached") / 5.0, 1.0),
    "logins": lambda p: min(_number(p, "product_logins_30d") / 20.0, 1.0),
    "csat": lambda p: max(_number(p, "support_csat_score") - 1.0, 0.0) / 4.0,
    "social": lambda p: min(_number(p, "social_mentions_90d") / 3.0, 1.0),
}


@dataclass(frozen=True)
class OutcomeModel:
    """The chance of referring within a month of an ask: a logistic function of features."""

    name: str
    intercept: float
    effects: dict[str, float] = field(default_factory=dict)  # feature -> log-odds per unit

    def propensity(self, props: Mapping[str, str]) -> float:
        """The hidden chance, 0..1, that this contact refers within a month of an ask."""
        logit = self.intercept + sum(FEATURES[name](props) * effect
                                     for name, effect in self.effects.items())
        return 1.0 / (1.0 + math.exp(-logit))


MODELS = {
    # strongly on NPS and milestones, not at all on social mentions (nor anything else)
    "truth": OutcomeModel("truth", -6.0, {"nps": 4.0, "milestones": 2.5}),
    # everyone alike: about one in four refers, whatever the score says
    "random": OutcomeModel("random", math.log(0.25 / 0.75)),
}


def generate_outcome_contacts(count: int, seed: int, now: datetime | None = None
                              ) -> Iterator[dict[str, str]]:
    """`count` customers with independently drawn signals, deterministic for (count, seed,
    now); about half of them score `ready` or better under the default mapping."""
    rng = random.Random(seed)
    today = reference_ms(now)
    for i in range(1, count + 1):
        yield _customer(rng, i, today)


def _customer(rng: random.Random, i: int, today: int) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    tenure = rng.randrange(30, 1000)
    customer_since = today - tenure * DAY_MS
    opened = today - rng.randrange(0, 120) * DAY_MS
    props = {
        "email": f"{first}.{last}+{i}@customer{i % 97}.example".lower(), "firstname": first,
        "lastname": last, "lifecyclestage": "customer",
        "createdate": iso_ms(customer_since - rng.randrange(1, 60) * DAY_MS),
        "hs_lifecyclestage_customer_date": iso_ms(customer_since),
        # 6-10: the recent-detractor guardrail keeps a few out, as in a real portal
        "hs_feedback_last_nps_rating": str(rng.randrange(6, 11)),
        "hs_feedback_last_survey_date": iso_ms(today - rng.randrange(1, 170) * DAY_MS),
        "product_logins_30d": str(rng.randrange(0, 41)),
        "success_milestones_reached": str(rng.randrange(0, 7)),
        "support_csat_score": str(rng.randrange(1, 6)),
        "hs_email_last_open_date": iso_ms(opened),
        "social_mentions_90d": str(rng.randrange(0, 5)),
        "open_support_escalations": "0",
        "total_revenue": str(rng.randrange(20, 500) * 100),
    }
    if rng.random() < 0.5:
        props["hs_email_last_click_date"] = iso_ms(opened)
    props["lastmodifieddate"] = iso_ms(today - rng.randrange(0, DAY_MS))
    return props
