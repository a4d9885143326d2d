"""The objects a process builds once from its settings and shares: database, HubSpot, configs."""

from __future__ import annotations

import logging
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings
from connector.db.migrate import ensure_schema
from connector.db.problems import database_problem
from connector.db.session import is_postgres, make_engine, make_sessions, transaction
from connector.errors import UserError
from connector.hubspot.failures import hubspot_problem
from connector.hubspot.gateway import HubSpotGateway, build_gateway
from connector.hubspot.schema import PropertySchema, load_property_schema
from connector.program.config import ProgramConfig, load_program
from connector.scoring.mapping import Mapping, load_mapping


class Runtime:
    """Settings plus lazily built engine, sessions, HubSpot gateway, mapping and program.

    Built by the application layer (`connector.cli`) only; the parts below receive it.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine

    @cached_property
    def engine(self) -> Engine:
        """The database engine; one built from the settings is checked first: SQLite (the
        embedded default) is migrated on first use, PostgreSQL must have been migrated by
        `connector db upgrade` (NotMigrated otherwise)."""
        if self._engine is not None:
            return self._engine
        url = self.settings.database_url
        engine = make_engine(url, pre_ping=self.settings.db_pre_ping)
        try:
            ensure_schema(engine, url, apply=not is_postgres(engine))
        except BaseException:
            engine.dispose()
            raise
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessions(self.engine)

    @property
    def on_postgres(self) -> bool:
        return is_postgres(self.engine)

    @cached_property
    def gateway(self) -> HubSpotGateway:
        return build_gateway(self.settings, self.engine)

    def save_usage(self) -> int:
        """Add this process's HubSpot calls since the last save to `api_usage` (the report's
        "HubSpot calls, last 24 h" counts every process); nothing when no call was made."""
        gateway = self.__dict__.get("gateway")  # never built: no call to count
        if gateway is None:
            return 0
        with transaction(self.sessions) as session:
            return gateway.record_usage(session)

    @cached_property
    def mapping(self) -> Mapping:
        return load_mapping(self.settings.mapping_path)

    @cached_property
    def property_schema(self) -> PropertySchema:
        return load_property_schema(self.settings.properties_path)

    @cached_property
    def program(self) -> ProgramConfig:
        return load_program(self.settings.program_path).deployed(
            public_url=self.settings.public_url,
            code_parameter=self.property_schema.name("referred_by_code"))


def describe_failure(exc: BaseException, settings: Settings) -> str | None:
    """One line for a failure the admin can act on: a UserError's message, the database
    unreachable, not migrated or lost, HubSpot's answer or why it cannot be reached; None for
    anything else (a bug: the traceback is what helps then)."""
    if isinstance(exc, UserError):
        return str(exc)
    problem = database_problem(exc, settings.database_url)
    if problem is not None:
        return problem.line
    return hubspot_problem(exc, settings.hubspot_base_url)


def log_failure(log: logging.Logger, what: str, exc: BaseException, settings: Settings) -> None:
    """Log a failed pass of a long-running process: one line when the cause is known (the
    database, HubSpot), the traceback when it is not."""
    line = describe_failure(exc, settings)
    if line is None:
        log.error("%s", what, exc_info=exc)
    else:
        log.error("%s: %s", what, line)
