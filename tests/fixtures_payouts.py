"""Payable rewards for contacts of a sandbox portal, and the sandbox's emulated Tremendous."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import requests
from sqlalchemy import Engine

from connector.db.models import Referral, RewardLedger
from connector.db.session import transaction
from connector.payouts import exactjson
from connector.payouts.tremendous import RetryPolicy, TremendousClient
from connector.runtime import Runtime
from connector.sandbox.payouts import SANDBOX_API_KEY
from connector.sandbox.server import SandboxHandle

FAST = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.05)


def paying_runtime(handle: SandboxHandle, runtime: Runtime, engine: Engine | None = None,
                   **program_changes: Any) -> Runtime:
    """The runtime with the sandbox's provider key and URL, and program changes applied."""
    settings = dataclasses.replace(runtime.settings, tremendous_api_key=SANDBOX_API_KEY,
                                   tremendous_base_url=f"{handle.url}/api/v2")
    paying = Runtime(settings, engine=engine or runtime.engine)
    if program_changes:
        paying.__dict__["program"] = dataclasses.replace(paying.program, **program_changes)
    return paying


def fast_client(runtime: Runtime, read_timeout: float = 2.0) -> TremendousClient:
    """The provider's client with short retries (the job's own factory waits seconds)."""
    settings = runtime.settings
    assert settings.tremendous_api_key
    return TremendousClient(settings.tremendous_api_key, base_url=settings.tremendous_base_url,
                            campaign_id=runtime.program.tremendous_campaign_id,
                            timeout=(2.0, read_timeout), retry=FAST)


def payable_rewards(runtime: Runtime, handle: SandboxHandle, count: int, *,
                    amount: str = "50", role: str = "advocate") -> list[int]:
    """`count` payable rewards, each for a different contact of the portal; their ids."""
    contacts = [str(c.id) for c in handle.portal.live_contacts()][:count]
    assert len(contacts) == count, "the portal has too few contacts"
    ids = []
    with transaction(runtime.sessions) as session:
        for index, contact in enumerate(contacts):
            referral = Referral(referred_contact_id=f"9{index:08d}", advocate_contact_id=contact,
                                code=f"CODE{index:04d}", status="converted")
            session.add(referral)
            session.flush()
            ledger = RewardLedger(referral_id=referral.id, role=role, contact_id=contact,
                                  amount=Decimal(amount), unit="USD", label="$50 gift card",
                                  status="payable", decided_by="rules")
            session.add(ledger)
            session.flush()
            ids.append(ledger.id)
    return ids


def provider_orders(handle: SandboxHandle) -> list[dict[str, Any]]:
    text = requests.get(f"{handle.url}/_sandbox/payouts/orders", timeout=5).text
    return exactjson.loads(text)["orders"]  # type: ignore[no-any-return]


def provider_faults(handle: SandboxHandle, **faults: Any) -> None:
    answer = requests.post(f"{handle.url}/_sandbox/payouts/faults", json=faults, timeout=5)
    assert answer.status_code == 200, answer.text
