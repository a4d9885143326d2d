"""The Flask application factory: webhooks, dashboard, health and metrics. No scheduler here."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from connector.config import Settings
from connector.logs import configure_logging
from connector.runtime import Runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app; nothing starts at import time and no scheduler ever runs here."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    runtime = runtime or Runtime(settings)
    if not logging.getLogger().handlers:
        configure_logging(settings)  # under gunicorn no CLI ran: same JSON logs, same redaction
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # HubSpot batches are far below 1 MiB
    app.extensions["connector"] = runtime
    # behind a load balancer: trust one hop of X-Forwarded-* to rebuild the public URL
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]

    from connector.web import dashboard, ops, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(dashboard.bp)
    return app


def runtime_of(app: Flask) -> Runtime:
    """The runtime the app was built with."""
    runtime = app.extensions["connector"]
    assert isinstance(runtime, Runtime)
    return runtime
