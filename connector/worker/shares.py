"""The worker's share-link step: new clicks become outbox items before each outbox flush, so
click counts ride in the same batch writes as everything else."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.db.session import transaction
from connector.program.shares import announce_clicks
from connector.runtime import Runtime
from connector.worker.locks import pass_lock


def announce_new_clicks(runtime: Runtime, now: datetime | None = None) -> int:
    """Queue the counts of advocates with new clicks (one worker at a time); returns how
    many advocates were queued, 0 when another worker holds the step."""
    with pass_lock(runtime.engine, "share:clicks") as held:
        if not held:
            return 0
        with transaction(runtime.sessions) as session:
            return announce_clicks(session, runtime, now or datetime.now(UTC))
