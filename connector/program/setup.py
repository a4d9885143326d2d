"""What program code reads of the process it runs in: the program's rules and the names of
its properties in HubSpot; never the database engine or the HubSpot gateway."""

from __future__ import annotations

from typing import Protocol

from connector.hubspot.schema import PropertySchema
from connector.program.config import ProgramConfig


class ProgramSetup(Protocol):
    """The program's configuration as loaded once per process (the runtime provides it)."""

    @property
    def program(self) -> ProgramConfig: ...

    @property
    def property_schema(self) -> PropertySchema: ...
