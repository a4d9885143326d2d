"""The Flask application factory: webhooks, share links, dashboard, health and metrics. No
scheduler here."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from connector.logs import configure_logging
from connector.runtime import Runtime
from connector.web import dashboard, hubspot_app, ops, share_links, webhooks
from connector.web.current import EXTENSION


def create_app(runtime: Runtime) -> Flask:
    """Build the web app on the process's runtime; nothing starts at import time and no
    scheduler ever runs here (`connector.cli.wiring.create_app` is gunicorn's entry)."""
    settings = runtime.settings
    if not logging.getLogger().handlers:
        configure_logging(settings)  # under gunicorn no CLI ran: same JSON logs, same redaction
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # HubSpot batches are far below 1 MiB
    app.extensions[EXTENSION] = runtime
    hops = settings.trusted_proxy_hops
    if hops:
        # behind TRUSTED_PROXY_HOPS proxies: the client's address is the one the outermost of
        # them saw; scheme, host and prefix come from the proxy next to the app. Without it
        # every X-Forwarded-* header is the client's own word and is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(hubspot_app.bp)
    app.register_blueprint(share_links.bp)
    return app
