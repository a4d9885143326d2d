"""Where processes are put together: the runtime every command builds from the environment,
and the web app gunicorn serves (Procfile `web`)."""

from __future__ import annotations

import sys

from flask import Flask

from connector.config import Settings
from connector.errors import UserError
from connector.runtime import Runtime
from connector.web.app import create_app as create_web_app


def build_runtime() -> Runtime:
    """The runtime of a command, from the environment (tests replace it by monkeypatch)."""
    return Runtime(Settings.from_env())


def create_app(settings: Settings | None = None) -> Flask:
    """The web process: settings from the environment, and it stops at start without the
    client secret (every webhook, card and action request would be refused otherwise).

    Under gunicorn no CLI prints a UserError: a bad setting is one line on stderr and exit 2.
    """
    try:
        settings = settings or Settings.from_env()
        settings.require_client_secret()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    return create_web_app(Runtime(settings))
