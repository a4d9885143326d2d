"""What every sandbox route shares: the portal, limits, counters, search cache, webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from connector.sandbox.limits import Limits, Stats
from connector.sandbox.portal import Portal
from connector.sandbox.search import SearchCache
from connector.sandbox.webhooks import WebhookSender


@dataclass
class SandboxState:
    """The state behind one sandbox app."""

    portal: Portal
    limits: Limits
    access_token: str
    stats: Stats = field(default_factory=Stats)
    search_cache: SearchCache = field(default_factory=SearchCache)
    webhooks: WebhookSender | None = None
    # contact id -> hidden chance of referring once asked (an outcome-model portal only)
    propensity: dict[str, float] = field(default_factory=dict)

    def webhook_counters(self) -> dict[str, Any]:
        """Webhook counters, zeros when no webhook URL is set."""
        if self.webhooks is None:
            return {"sent": 0, "failed": 0, "pending": 0, "deliveries": 0}
        return self.webhooks.counters()


def state() -> SandboxState:
    """The sandbox state of the running app."""
    found = current_app.extensions["sandbox"]
    assert isinstance(found, SandboxState)
    return found
