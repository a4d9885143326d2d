"""The objects a process builds once from its settings and shares: database, HubSpot, configs."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings
from connector.db.session import is_postgres, make_engine, make_sessions

if TYPE_CHECKING:
    from connector.hubspot.gateway import HubSpotGateway
    from connector.program.config import ProgramConfig
    from connector.scoring.mapping import Mapping


class Runtime:
    """Settings plus lazily built engine, sessions, HubSpot gateway, mapping and program."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine

    @cached_property
    def engine(self) -> Engine:
        return self._engine or make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessions(self.engine)

    @property
    def on_postgres(self) -> bool:
        return is_postgres(self.engine)

    @cached_property
    def gateway(self) -> HubSpotGateway:
        from connector.hubspot.gateway import build_gateway

        return build_gateway(self.settings, self.engine)

    @cached_property
    def mapping(self) -> Mapping:
        from connector.scoring.mapping import load_mapping

        return load_mapping(self.settings.mapping_path)

    @cached_property
    def property_schema(self) -> Any:
        from connector.hubspot.schema import load_property_schema

        return load_property_schema(self.settings.properties_path)

    @cached_property
    def program(self) -> ProgramConfig:
        from connector.program.config import load_program

        return load_program(self.settings.program_path)
