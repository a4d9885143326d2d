"""The objects a process builds once from its settings and shares: database, HubSpot, configs."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings
from connector.db.session import is_postgres, make_engine, make_sessions
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
        return self._engine or make_engine(self.settings.database_url,
                                           pre_ping=self.settings.db_pre_ping)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessions(self.engine)

    @property
    def on_postgres(self) -> bool:
        return is_postgres(self.engine)

    @cached_property
    def gateway(self) -> HubSpotGateway:
        return build_gateway(self.settings, self.engine)

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
