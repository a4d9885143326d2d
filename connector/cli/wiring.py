"""Where processes are put together: the runtime every command builds from the environment,
and the web app gunicorn serves (Procfile `web`)."""

from __future__ import annotations

import logging
import sys

from flask import Flask

from connector.cli.preflight import check_web
from connector.config import ConfigError, Settings
from connector.errors import UserError
from connector.runtime import Runtime
from connector.web.app import create_app as create_web_app

log = logging.getLogger(__name__)


_built: list[Runtime] = []  # this command's runtimes, whose HubSpot calls are saved at its end


def build_runtime() -> Runtime:
    """The runtime of a command, from the environment (tests replace it by monkeypatch)."""
    runtime = Runtime(Settings.from_env())
    _built.append(runtime)
    return runtime


def save_usage() -> None:
    """Add the HubSpot calls this command made to `api_usage` (best effort: a command that
    failed on the database cannot save them either)."""
    while _built:
        runtime = _built.pop()
        try:
            runtime.save_usage()
        except Exception as exc:  # noqa: BLE001 - the counts only feed the report
            log.debug("HubSpot call counts not saved: %s", type(exc).__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """The web process: settings from the environment, and it stops at start without the
    client secret (every webhook, card and action request would be refused otherwise) and on
    a database that is not migrated (SQLite, the embedded default, is migrated instead).

    Under gunicorn no CLI prints a UserError: a bad setting is one line on stderr and exit 2.
    A database that does not answer yet is no reason to stop: webhooks get 503 (HubSpot
    retries) and /readyz says why until it answers.
    """
    try:
        settings = settings or Settings.from_env()
        runtime = Runtime(settings)
        check_web(settings, lambda: runtime.engine)  # the schema checked once, by the runtime
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    return create_web_app(runtime)


def serve_metrics(settings: Settings, process: str) -> None:
    """The process's own /metrics on METRICS_PORT (worker, clock: Prometheus scrapes each
    process; the web's gunicorn workers share theirs at the web's /metrics)."""
    if settings.metrics_port is None:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(settings.metrics_port)
    except OSError as exc:
        raise ConfigError(f"METRICS_PORT={settings.metrics_port}: the {process}'s metrics "
                          f"cannot listen there ({exc.strerror or exc})") from None
    log.info("%s metrics at http://0.0.0.0:%d/metrics", process, settings.metrics_port)
