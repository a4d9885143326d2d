"""The payout job: rewards whose hold is over paid through the provider the program names
for their role, each exactly once (see `program.payouts`), and the contact told in HubSpot
(`referral_rewards_paid`, through the outbox). The worker runs it after each drain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.db.session import transaction
from connector.errors import UserError
from connector.payouts.tremendous import (
    CredentialsRejected,
    OrderConflict,
    ProviderRejected,
    ProviderUnavailable,
    TremendousClient,
)
from connector.program.payouts import (
    Payout,
    claim_payouts,
    mark_paid,
    record_failure,
    release,
)
from connector.runtime import Runtime

log = logging.getLogger(__name__)

PROVIDER = "tremendous"
RECIPIENT_PROPERTIES = ["email", "firstname", "lastname"]


@dataclass
class PayoutSummary:
    """What one run did."""

    paid: int = 0
    failed: int = 0
    waiting: int = 0  # claimed, then given back or left for a retry
    errors: list[str] = field(default_factory=list)


def tremendous_client(runtime: Runtime) -> TremendousClient:
    """The provider's client from the settings; one line (UserError) when the key is missing."""
    settings = runtime.settings
    if not settings.tremendous_api_key:
        raise UserError("TREMENDOUS_API_KEY is not set: the program pays rewards through "
                        "Tremendous (workflows/program.yaml payouts); rewards wait until it is")
    return TremendousClient(settings.tremendous_api_key, base_url=settings.tremendous_base_url,
                            campaign_id=runtime.program.tremendous_campaign_id)


def pay_rewards(runtime: Runtime, *, now: datetime | None = None, limit: int = 50,
                client_factory: Callable[[Runtime], TremendousClient] = tremendous_client,
                ) -> PayoutSummary:
    """Pay what is due through the provider; raises UserError (rewards wait) when the
    provider's credentials are missing or refused."""
    summary = PayoutSummary()
    if PROVIDER not in runtime.program.payout_providers.values():
        return summary
    now = now or datetime.now(UTC)
    with transaction(runtime.sessions) as session:
        payouts = claim_payouts(session, runtime.program, now, provider=PROVIDER, limit=limit)
    if not payouts:
        return summary
    try:
        client = client_factory(runtime)
    except UserError:
        with transaction(runtime.sessions) as session:
            release(session, payouts)
        raise
    try:
        recipients = {c.id: c.properties for c in runtime.gateway.read_contacts(
            [p.contact_id for p in payouts], RECIPIENT_PROPERTIES)}
        for index, payout in enumerate(payouts):
            try:
                _pay_one(runtime, client, payout, recipients.get(payout.contact_id), summary)
            except CredentialsRejected:
                with transaction(runtime.sessions) as session:
                    release(session, payouts[index:])
                raise
    finally:
        client.close()
    return summary


def _pay_one(runtime: Runtime, client: TremendousClient, payout: Payout,
             recipient: dict[str, str | None] | None, summary: PayoutSummary) -> None:
    """One order under the payout's key, and its outcome committed."""
    now = datetime.now(UTC)
    email = (recipient or {}).get("email") or ""
    name = " ".join(filter(None, [(recipient or {}).get("firstname"),
                                  (recipient or {}).get("lastname")])) or email.split("@")[0]
    try:
        if not email:
            raise ProviderRejected("the contact has no email address in HubSpot", status=422)
        try:
            order = client.place_order(idempotency_key=payout.key, amount=payout.amount,
                                       currency=payout.unit, recipient_name=name,
                                       recipient_email=email)
        except OrderConflict:
            # the key was used with other parameters (the recipient's email changed since):
            # the order placed under it is this reward's payment
            found = client.find_order_by_external_id(payout.key)
            if found is None:
                raise
            order = found
    except ProviderUnavailable as exc:
        _failed(runtime, payout, f"provider unavailable: {exc}", now, retry=True,
                summary=summary)
        return
    except (ProviderRejected, ValueError) as exc:
        _failed(runtime, payout, f"provider refused: {exc}", now, retry=False, summary=summary)
        return
    with transaction(runtime.sessions) as session:
        mark_paid(session, runtime, payout.ledger_id, reference=order.id, now=now)
    summary.paid += 1
    log.info("reward %s paid: order %s", payout.ledger_id, order.id)


def _failed(runtime: Runtime, payout: Payout, reason: str, now: datetime, *, retry: bool,
            summary: PayoutSummary) -> None:
    with transaction(runtime.sessions) as session:
        record_failure(session, payout, reason, now, retry=retry)
    summary.failed += 1
    summary.errors.append(reason)
    log.warning("reward %s not paid (%s): %s", payout.ledger_id,
                "will retry" if retry else "left for a person", reason)
