"""`connector serve`: the web app (webhooks, dashboard, health) for local use."""

from __future__ import annotations

import click
from werkzeug.serving import run_simple

from connector.cli.wiring import create_app
from connector.config import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 8000).")
def serve(host: str, port: int | None) -> None:
    """Run the web app with werkzeug (threaded); production runs the same factory in gunicorn."""
    settings = Settings.from_env()
    app = create_app(settings)
    port = port if port is not None else settings.port
    run_simple(host, port, app, threaded=True, use_reloader=False)
