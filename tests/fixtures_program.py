"""Fixtures for the referral program: a runtime on the test database and a small harness
that runs `hooks.on_contact` for a fake contact the way the sync does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connector.config import Settings
from connector.db.models import ContactState, OutboxItem, Referral, ReferralRejection, RewardLedger
from connector.db.session import transaction
from connector.hubspot.gateway import Contact
from connector.program import hooks
from connector.program.config import ProgramConfig, Workflow
from connector.runtime import Runtime
from connector.scoring.model import ReadinessScore

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class ProgramHarness:
    """Processes fake contacts through the program and reads back what it recorded."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def program(self) -> ProgramConfig:
        return self.runtime.program

    def configure(self, **changes: Any) -> None:
        """Replace some program settings (the runtime caches the loaded program)."""
        self.runtime.__dict__["program"] = dataclasses.replace(self.runtime.program, **changes)

    def use_api_mode(self) -> None:
        """Enroll through the v2 API with made-up workflow ids."""
        workflows = {step: Workflow(step, str(1000 + i), None)
                     for i, step in enumerate(self.program.workflows)}
        self.configure(enrollment_mode="api", workflows=workflows)

    def process(self, contact_id: str, *, tier: str = "nurture", now: datetime = NOW,
                created_at: datetime | None = None, **properties: str | None) -> dict[str, str]:
        """Run on_contact for one contact in its own committed transaction."""
        props: dict[str, str | None] = {"email": f"person{contact_id}@example.com",
                                        "lifecyclestage": "lead"}
        props.update(properties)
        created = created_at or now - timedelta(days=1)
        contact = Contact(id=contact_id, properties=props, created_at=created)
        readiness = ReadinessScore(score=80 if tier in ("champion", "ready") else 40,
                                   tier=tier, reasons="test")
        with transaction(self.runtime.sessions) as session:
            state = session.get(ContactState, contact_id)
            if state is None:
                state = ContactState(contact_id=contact_id, journey_state="none", written={})
                session.add(state)
            state.tier = tier
            return hooks.on_contact(session, self.runtime, contact, readiness, state, now)

    def invite(self, contact_id: str, now: datetime = NOW) -> str:
        """Invite a contact and return its referral code."""
        out = self.process(contact_id, tier="ready", now=now)
        return out["referral_code"]

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(model).where(*where).order_by(model.id)))

    def state(self, contact_id: str) -> ContactState:
        with self.runtime.sessions() as session:
            state = session.get(ContactState, contact_id)
            assert state is not None
            return state

    def outbox(self, contact_id: str | None = None,
               kinds: tuple[str, ...] = ("properties", "enroll")) -> list[OutboxItem]:
        """Outbox items (of these kinds: by default not a referral's notes and labels)."""
        where = [OutboxItem.kind.in_(kinds)]
        if contact_id is not None:
            where.append(OutboxItem.contact_id == contact_id)
        return self.rows(OutboxItem, *where)

    def referrals(self) -> list[Referral]:
        return self.rows(Referral)

    def rejections(self) -> list[ReferralRejection]:
        return self.rows(ReferralRejection)

    def ledger(self) -> list[RewardLedger]:
        return self.rows(RewardLedger)

    def pay(self, reward_id: int, now: datetime) -> None:
        """The reward reaches its contact (as the payout job or a person records it)."""
        from connector.db.models import RewardLedger as Ledger
        from connector.db.session import transaction
        from connector.program.payouts import mark_paid

        with transaction(self.runtime.sessions) as session:
            session.get(Ledger, reward_id).status = "payable"  # the hold is over
            session.flush()
            assert mark_paid(session, self.runtime, reward_id, reference="test", now=now)


@pytest.fixture
def program_runtime(engine: Engine, sqlite_url: str) -> Runtime:
    """A runtime with the repository's program and property files, on SQLite and PostgreSQL."""
    return Runtime(Settings(database_url=sqlite_url), engine=engine)


@pytest.fixture
def program_harness(program_runtime: Runtime) -> ProgramHarness:
    return ProgramHarness(program_runtime)
