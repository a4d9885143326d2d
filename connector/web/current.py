"""The runtime the web app was built with, as the blueprints reach it."""

from __future__ import annotations

from flask import Flask

from connector.runtime import Runtime

EXTENSION = "connector"


def runtime_of(app: Flask) -> Runtime:
    """The runtime the app was built with."""
    runtime = app.extensions[EXTENSION]
    assert isinstance(runtime, Runtime)
    return runtime
