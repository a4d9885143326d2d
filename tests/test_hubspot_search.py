"""The search walk against an in-memory model of HubSpot's search semantics (fast, exhaustive)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from connector.hubspot.gateway import Contact
from connector.hubspot.search import PAGE_SIZE, ContactSearch, modified_ms

CAP = 10_000


class FakeSearch:
    """HubSpot search rules: AND-ed filters, one sort, ties in arbitrary order, 10,000 cap."""

    def __init__(self, contacts: dict[int, int], seed: int = 7) -> None:
        self.contacts = contacts  # id -> lastmodifieddate ms
        self.rng = random.Random(seed)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> tuple[list[Contact], bool]:
        self.bodies.append(body)
        assert body["limit"] <= PAGE_SIZE
        assert len(body["sorts"]) == 1
        rows = list(self.contacts.items())
        for group in body["filterGroups"]:
            for f in group["filters"]:
                index = 0 if f["propertyName"] == "hs_object_id" else 1
                value = int(f["value"])
                check = {"GT": lambda a, v=value: a > v, "GTE": lambda a, v=value: a >= v,
                         "EQ": lambda a, v=value: a == v}[f["operator"]]
                rows = [r for r in rows if check(r[index])]
        key = 0 if body["sorts"][0]["propertyName"] == "hs_object_id" else 1
        self.rng.shuffle(rows)  # ties come back in no particular order
        rows.sort(key=lambda r: r[key])
        offset = int(body.get("after") or 0)
        if offset + body["limit"] > CAP:
            raise AssertionError("paged past the 10,000-result cap (HubSpot answers 400)")
        page = rows[offset:offset + body["limit"]]
        contacts = [Contact(id=str(i), properties={"hs_object_id": str(i),
                                                  "lastmodifieddate": str(ts)})
                    for i, ts in page]
        return contacts, offset + len(page) < len(rows)


def _portal(n: int, seed: int = 1) -> dict[int, int]:
    """n contacts; large groups share one timestamp (bulk imports), the rest spread out."""
    rng = random.Random(seed)
    base = 1_700_000_000_000
    contacts: dict[int, int] = {}
    ids = rng.sample(range(1, n * 20), n)
    for position, contact_id in enumerate(ids):
        if position < 12_000:
            contacts[contact_id] = base + 5_000  # more than 10,000 at one instant
        elif position < 12_450:
            contacts[contact_id] = base + 9_000  # a few full pages at one instant
        else:
            contacts[contact_id] = base + rng.randrange(0, 50_000)
    return contacts


def _walk(fake: FakeSearch, **kwargs: Any) -> list[str]:
    seen: list[str] = []
    for page in ContactSearch(fake).iter_pages(["email"], **kwargs):
        assert 0 < len(page) <= PAGE_SIZE
        seen.extend(c.id for c in page)
    return seen


def test_walk_by_id_yields_every_contact_once_past_the_cap() -> None:
    portal = _portal(25_000)
    fake = FakeSearch(portal)
    seen = _walk(fake)
    assert sorted(seen, key=int) == [str(i) for i in sorted(portal)]
    assert len(seen) == len(set(seen))
    assert all(b["sorts"][0]["propertyName"] == "hs_object_id" for b in fake.bodies)


def test_walk_by_modification_yields_every_contact_once_with_shared_timestamps() -> None:
    portal = _portal(25_000)
    fake = FakeSearch(portal)
    seen = _walk(fake, modified_since_ms=0)
    assert len(seen) == len(set(seen)) == len(portal)
    # in lastmodifieddate order, as the sync's checkpoint needs
    stamps = [portal[int(i)] for i in seen]
    assert stamps == sorted(stamps)
    # properties travel in the body and always include the anchors
    assert {"email", "hs_object_id", "lastmodifieddate"} <= set(fake.bodies[0]["properties"])


def test_walk_by_modification_only_returns_contacts_at_or_after_the_cursor() -> None:
    portal = _portal(3_000, seed=3)
    cutoff = sorted(portal.values())[1_000]
    seen = _walk(FakeSearch(portal), modified_since_ms=cutoff)
    assert sorted(seen) == sorted(str(i) for i, ts in portal.items() if ts >= cutoff)


def test_resume_inside_a_timestamp_after_an_object_id() -> None:
    portal = {i: 1_000 if i <= 500 else 2_000 + i for i in range(1, 801)}
    seen = _walk(FakeSearch(portal), modified_since_ms=1_000, after_object_id=300)
    assert sorted(seen, key=int) == [str(i) for i in range(301, 801)]


@pytest.mark.parametrize("seed", range(5))
def test_small_portals_with_random_ties(seed: int) -> None:
    rng = random.Random(seed)
    portal = {i: rng.choice([10, 20, 20, 30]) for i in rng.sample(range(1, 5_000), 900)}
    seen = _walk(FakeSearch(portal, seed=seed), modified_since_ms=10)
    assert sorted(seen) == sorted(str(i) for i in portal)
    assert len(seen) == len(set(seen))


def test_modified_ms_reads_iso_and_epoch_values() -> None:
    iso = Contact(id="1", properties={"lastmodifieddate": "2024-01-02T03:04:05.678Z"})
    assert modified_ms(iso) == 1_704_164_645_678
    assert modified_ms(Contact(id="2", properties={"lastmodifieddate": "1704164645678"})) == \
        1_704_164_645_678
