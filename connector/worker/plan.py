"""What a batch of inbox events asks for: contacts to re-score and contacts removed. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from connector.queue.inbox import ClaimedEvent

# HubSpot's contact removals (https://developers.hubspot.com/docs/api/webhooks)
REMOVALS = {"contact.deletion": "deletion", "contact.privacyDeletion": "privacy_deletion",
            "contact.merge": "merge"}


@dataclass(frozen=True)
class Removal:
    """A contact gone from HubSpot; `merged_into` is the survivor of a merge."""

    contact_id: str
    kind: str
    merged_into: str | None = None


@dataclass
class BatchPlan:
    """The work of a batch: per event, its removals; all contacts to re-score, collapsed."""

    removals: dict[int, list[Removal]] = field(default_factory=dict)
    rescore: dict[str, list[int]] = field(default_factory=dict)  # contact id -> event ids
    deals: dict[str, list[int]] = field(default_factory=dict)  # deal id -> event ids
    ignored: list[int] = field(default_factory=list)

    def rescore_events(self) -> list[int]:
        """Ids of the events settled by the re-score, each once."""
        return sorted({i for ids in self.rescore.values() for i in ids})


def _ids(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values
            if isinstance(v, int | str) and str(v).isascii() and str(v).isdigit()]


def merge_removals(event: ClaimedEvent) -> tuple[str | None, list[Removal]]:
    """The survivor of a contact.merge and the merged-away contacts pointing at it."""
    payload = event.payload
    survivor = next(iter(_ids(payload.get("newObjectId")) + _ids(payload.get("primaryObjectId"))
                         + _ids(event.object_id)), None)
    gone = _ids(payload.get("mergedObjectIds")) + _ids(payload.get("primaryObjectId"))
    removed = sorted({g for g in gone if g != survivor})
    return survivor, [Removal(g, "merge", survivor) for g in removed]


def plan_batch(events: Sequence[ClaimedEvent]) -> BatchPlan:
    """Collapse events per contact; removals first, and a removed contact is not re-scored."""
    plan = BatchPlan()
    removed: set[str] = set()
    for event in events:
        kind = event.subscription_type or ""
        if event.source == "workflow" or (kind.startswith("contact.") and kind not in REMOVALS):
            if event.object_id:
                plan.rescore.setdefault(event.object_id, []).append(event.id)
            else:
                plan.ignored.append(event.id)
        elif kind == "contact.merge":
            survivor, removals = merge_removals(event)
            plan.removals[event.id] = removals
            removed.update(r.contact_id for r in removals)
            if survivor:
                plan.rescore.setdefault(survivor, []).append(event.id)
        elif kind in REMOVALS and event.object_id:
            plan.removals[event.id] = [Removal(event.object_id, REMOVALS[kind])]
            removed.add(event.object_id)
        elif kind.startswith("deal.") and event.object_id:
            plan.deals.setdefault(event.object_id, []).append(event.id)  # collapsed per deal
        else:
            plan.ignored.append(event.id)  # other objects: the sync does not read them
    for contact_id in removed:
        ids = plan.rescore.pop(contact_id, [])
        plan.ignored.extend(i for i in ids if i not in plan.removals)
    return plan
