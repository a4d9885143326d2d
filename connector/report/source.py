"""The report read from a runtime's database, with the program config's knobs applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from connector.errors import UserError
from connector.report.calibration import calibration_panel
from connector.report.numbers import build_report
from connector.runtime import Runtime


class ReportUnavailable(UserError):
    """The database cannot be read (down, or not migrated)."""


def program_options(runtime: Runtime) -> dict[str, Any]:
    """The report's knobs that come from the program config."""
    program = runtime.program
    manual = tuple(role for role, name in program.payout_providers.items() if name == "manual")
    return {"min_tier": program.min_tier, "revenue_source": program.revenue_source,
            "manual_roles": manual}


def load_report(runtime: Runtime, since: datetime | None = None,
                until: datetime | None = None) -> dict[str, Any]:
    """The report from the runtime's database; ReportUnavailable when it cannot be read."""
    try:
        with runtime.sessions() as session:
            report = build_report(session, since, until, **program_options(runtime))
            # all time, whatever the period: outcomes need their windows to have ended
            report["calibration"] = calibration_panel(
                session, runtime.mapping, window_days=runtime.settings.calibration_window_days)
            return report
    except (OperationalError, ProgrammingError) as exc:
        raise ReportUnavailable(
            "cannot read the connector's database "
            f"({str(exc.orig).splitlines()[0]}); run `connector db upgrade` first"
        ) from None
