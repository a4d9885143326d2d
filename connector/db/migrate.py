"""Apply the Alembic migrations (`connector db upgrade`, the Procfile's release line), and tell
whether a database is ready for this version of the connector."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from connector.config import PROJECT_ROOT, redact_url
from connector.errors import UserError

# a table every version of the connector has: present without `alembic_version`, the tables
# were created from the models (tests and benchmarks do that) and are taken as they are
ANCHOR_TABLE = "inbox_event"
log = logging.getLogger(__name__)


class NotMigrated(UserError):
    """The database has none (or not all) of this version's tables: `connector db upgrade`."""


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at `migrations/` and the given database."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def head_revision() -> str:
    """The newest migration this version of the connector ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


@cache
def known_revisions() -> frozenset[str]:
    """Every migration this version ships."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(s.revision for s in scripts.walk_revisions())


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands: `current`, `empty` (never migrated), `behind` (migrations
    pending), `ahead` (migrated by a newer version) or `unversioned` (created from models)."""

    state: str
    revision: str | None
    head: str

    @property
    def usable(self) -> bool:
        return self.state in ("current", "ahead", "unversioned")


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs "Context impl ..." at INFO on every look: not news on every command."""
    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def schema_status(engine: Engine) -> SchemaStatus:
    """Read the database's migration revision (one connection; raises when unreachable)."""
    head = head_revision()
    with engine.connect() as conn, _quiet_alembic():
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None:
            created = inspect(conn).has_table(ANCHOR_TABLE)
            return SchemaStatus("unversioned" if created else "empty", None, head)
    if revision == head:
        return SchemaStatus("current", revision, head)
    if revision not in known_revisions():
        return SchemaStatus("ahead", revision, head)
    return SchemaStatus("behind", revision, head)


def not_migrated_line(url: str, status: SchemaStatus) -> str:
    """What to tell the admin about a database this version cannot use yet."""
    where = f"the database {redact_url(url)}"
    if status.state == "empty":
        return f"{where} is not migrated (no connector tables): run `connector db upgrade`"
    return (f"{where} is at migration {status.revision}, this version needs {status.head}: "
            "run `connector db upgrade`")


def ensure_schema(engine: Engine, database_url: str, *, apply: bool) -> SchemaStatus:
    """Make sure the database can be used: migrate it when `apply` (SQLite, the embedded
    default, on first use), otherwise NotMigrated naming `connector db upgrade`."""
    status = schema_status(engine)
    if status.usable:
        return status
    if not apply:
        raise NotMigrated(not_migrated_line(database_url, status))
    log.debug("migrating the database %s to %s (first use)", redact_url(database_url),
              status.head)
    try:
        with _quiet_alembic():  # silent: a command's output stays its own
            upgrade(database_url)
    except Exception:
        # another process (web and worker starting together) may have migrated it meanwhile
        if not schema_status(engine).usable:
            raise
    return schema_status(engine)
