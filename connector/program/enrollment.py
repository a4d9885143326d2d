"""Enrolling contacts in the program's workflows, once per contact, step and cycle.

`property` mode: a trigger property set to the step's time rides in a batch write and
the HubSpot workflow enrolls on it. `api` mode: an `enroll` outbox item that
flush_outbox sends to the v2 endpoint through the shared limiter. The outbox's
idempotency keys make each enrollment happen once whatever retries do.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from connector.program.config import ProgramConfig
from connector.program.dates import hubspot_time
from connector.queue.outbox import enqueue

log = logging.getLogger(__name__)


def trigger_properties(program: ProgramConfig, step: str, at: datetime) -> dict[str, str]:
    """In property mode, {trigger property: time of the step}; in api mode nothing."""
    trigger = program.workflows[step].trigger_property
    if program.enrollment_mode != "property" or not trigger:
        return {}
    return {trigger: hubspot_time(at)}


def enqueue_enrollment(
    session: Session, program: ProgramConfig, *, step: str, contact_id: str,
    email: str | None, cycle: str,
) -> bool:
    """In api mode, record one v2 enrollment for this contact, step and cycle."""
    if program.enrollment_mode != "api" or not program.workflows[step].workflow_id:
        return False  # property mode, or an optional step the program file leaves out
    if not email:
        log.warning("no email to enroll contact %s in the %s workflow", contact_id, step)
        return False
    workflow_id = program.workflows[step].workflow_id
    return enqueue(
        session, key=f"enroll:{step}:{contact_id}:{cycle}", kind="enroll",
        contact_id=contact_id, payload={"workflow_id": str(workflow_id), "email": email},
    )


def enroll_other_contact(
    session: Session, program: ProgramConfig, *, step: str, contact_id: str,
    email: str | None, cycle: str, at: datetime, properties: dict[str, str] | None = None,
) -> None:
    """Enroll a contact that is not the one being processed, writing `properties` with it."""
    update = dict(properties or {})
    update.update(trigger_properties(program, step, at))
    enqueue_enrollment(session, program, step=step, contact_id=contact_id, email=email,
                       cycle=cycle)
    if update:
        enqueue(session, key=f"props:{step}:{contact_id}:{cycle}", kind="properties",
                contact_id=contact_id, payload={"properties": update})
