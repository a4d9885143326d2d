"""The report read from a runtime's database, with the program config's knobs applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from connector.errors import UserError
from connector.report.numbers import build_report
from connector.runtime import Runtime


class ReportUnavailable(UserError):
    """The database cannot be read (down, or not migrated)."""


def program_options(runtime: Runtime) -> dict[str, Any]:
    """The report's knobs that come from the program config, when there is one."""
    try:
        program = runtime.program
    except (ImportError, UserError, OSError):
        return {}  # no program config yet: the report's defaults apply
    options: dict[str, Any] = {}
    min_tier = getattr(program, "min_tier", None)
    if isinstance(min_tier, str):
        options["min_tier"] = min_tier
    source = getattr(program, "revenue_source", None)
    if isinstance(source, str):
        options["revenue_source"] = source
    return options


def load_report(runtime: Runtime, since: datetime | None = None,
                until: datetime | None = None) -> dict[str, Any]:
    """The report from the runtime's database; ReportUnavailable when it cannot be read."""
    try:
        with runtime.sessions() as session:
            return build_report(session, since, until, **program_options(runtime))
    except (OperationalError, ProgrammingError) as exc:
        raise ReportUnavailable(
            "cannot read the connector's database "
            f"({str(exc.orig).splitlines()[0]}); run `connector db upgrade` first"
        ) from None
