"""CONTRACT STUB (scoring replaces this): the signal mapping loaded from mappings/signals.yaml."""

from __future__ import annotations

from pathlib import Path

from connector.errors import UserError


class MappingError(UserError):
    """The mapping file is malformed: the message names the file, the key and the problem."""


class Mapping:
    """Signals, guardrails and tier thresholds; `properties` lists what to read from HubSpot."""

    properties: list[str]


def load_mapping(path: Path) -> Mapping:
    """Read and validate the mapping; raise MappingError naming file, key and problem."""
    raise NotImplementedError
