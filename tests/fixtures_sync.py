"""Sync fixtures: a runtime pointed at a sandbox whose portal has the connector's properties."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.config import Settings
from connector.hubspot.schema import load_property_schema
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle


def install_properties(handle: SandboxHandle, settings: Settings) -> None:
    """Create the advocacy group and properties in the sandbox portal, as `install` would."""
    schema = load_property_schema(settings.properties_path)
    portal = handle.portal
    with portal.lock:
        portal.groups.setdefault(schema.group_name, {
            "name": schema.group_name, "label": schema.group_label,
            "displayOrder": len(portal.groups), "archived": False})
        for definition in schema.definitions.values():
            if definition.name not in portal.properties:
                portal.create_property(definition.to_hubspot(schema.group_name))


SyncSetup = Callable[..., tuple[SandboxHandle, Runtime]]


@pytest.fixture
def sync_setup(
    make_sandbox: Callable[..., SandboxHandle], settings: Settings, sqlite_engine: Engine,
) -> SyncSetup:
    """make(engine=None, **sandbox overrides) -> (sandbox with properties, runtime on it)."""

    def make(engine: Engine | None = None, **overrides: Any) -> tuple[SandboxHandle, Runtime]:
        handle = make_sandbox(**overrides)
        install_properties(handle, settings)
        pointed = dataclasses.replace(settings, hubspot_base_url=handle.url,
                                      hubspot_access_token="sandbox-token")
        return handle, Runtime(pointed, engine=engine or sqlite_engine)

    return make
