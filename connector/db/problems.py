"""A database failure in one line for the admin: unreachable, not migrated, or lost mid-run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, NoSuchModuleError, PendingRollbackError, SQLAlchemyError

from connector.config import redact_url

# PostgreSQL's codes for a missing table or column: a schema older than the code
UNDEFINED = frozenset({"42P01", "42703"})
NOT_MIGRATED_SQLITE = ("no such table", "no such column", "has no column named")
LOST = ("terminating connection", "server closed the connection", "consuming input failed",
        "connection already closed", "connection is closed", "ssl connection has been closed",
        "the connection is lost", "connection has been closed")
PREFIXES = ("connection failed: ",)


@dataclass(frozen=True)
class DatabaseProblem:
    """What went wrong (`unreachable`, `not_migrated`, `lost`, `error`) and the line to print."""

    kind: str
    line: str


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    for prefix in PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def database_problem(exc: BaseException, database_url: str) -> DatabaseProblem | None:
    """The problem behind a SQLAlchemy error, or None when `exc` is not one."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    where = redact_url(database_url)
    if isinstance(exc, NoSuchModuleError):
        return DatabaseProblem("error", f"DATABASE_URL {where} names a database the connector "
                                        "cannot use; use postgresql:// or sqlite:///")
    if isinstance(exc, PendingRollbackError):
        return DatabaseProblem("lost", f"the connection to the database {where} was lost "
                                       "mid-run (it restarted or dropped the connection); run "
                                       "the command again")
    if not isinstance(exc, DBAPIError):
        return DatabaseProblem("error", f"database error ({where}): {_first_line(exc)}")
    detail = _first_line(exc)
    lowered = str(exc.orig).lower()
    if getattr(exc.orig, "sqlstate", None) in UNDEFINED or any(
            marker in lowered for marker in NOT_MIGRATED_SQLITE):
        return DatabaseProblem("not_migrated", f"the database {where} is missing the tables or "
                                               f"columns of this version ({detail}): run "
                                               "`connector db upgrade`")
    if exc.connection_invalidated or any(marker in lowered for marker in LOST):
        return DatabaseProblem("lost", f"the connection to the database {where} was lost "
                                       f"mid-run ({detail}): it restarted or dropped the "
                                       "connection; run the command again")
    if type(exc).__name__ in ("OperationalError", "InterfaceError"):
        return DatabaseProblem("unreachable", f"cannot reach the database {where}: {detail}")
    return DatabaseProblem("error", f"database error ({where}): {detail}")
