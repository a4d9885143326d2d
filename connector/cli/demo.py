"""`connector demo`: the whole program on a bare machine, against a local sandbox HubSpot.

Sandbox (seeded portal, signed webhooks) -> the connector's web app on a real port -> inbox ->
worker drain -> re-score, program, outbox -> writes back to the sandbox; then the report.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connector.cli.story import Story
from connector.config import Settings
from connector.errors import UserError
from connector.report.render import print_report
from connector.report.source import load_report
from connector.runtime import Runtime
from connector.sandbox.payouts import SANDBOX_API_KEY
from connector.sandbox.server import SandboxConfig, SandboxHandle, run_in_thread
from connector.web.app import create_app
from connector.worker.loop import StopFlag, WorkerOptions, run_worker

# generous limits: the demo shows the program, not HubSpot's throttling
SANDBOX_LIMITS: dict[str, Any] = {
    "rate_limit_per_10s": 2_000, "search_rate_per_s": 50.0, "daily_limit": 10_000_000,
    "webhook_interval_s": 0.05, "webhook_retry_base_s": 0.2,
}
QUIET_LOGGERS = ("connector", "werkzeug", "alembic")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _Mount:
    """A WSGI app set after the server has its port (the app needs its own public URL)."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting\n"]
        return self.app(environ, start_response)


@dataclass
class DemoWorld:
    """What the demo started, so it can stop all of it."""

    console: Console
    started: float = field(default_factory=time.monotonic)
    web: BaseWSGIServer | None = None
    web_thread: threading.Thread | None = None
    sandbox: SandboxHandle | None = None

    def say(self, text: str) -> None:
        """One narrated line, with the seconds since the start."""
        self.console.print(f"[dim]{time.monotonic() - self.started:5.1f}s[/dim]  {text}",
                           soft_wrap=True)

    def stop(self) -> None:
        """Stop the web server and the sandbox."""
        if self.web is not None:
            self.web.shutdown()
            self.web.server_close()
        if self.web_thread is not None:
            self.web_thread.join(timeout=5)
        if self.sandbox is not None:
            self.sandbox.stop()


def _start_web(world: DemoWorld, mount: _Mount) -> str:
    world.web = make_server("127.0.0.1", 0, mount, threaded=True, request_handler=_QuietHandler)
    world.web_thread = threading.Thread(target=world.web.serve_forever, name="demo-web",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
    world.web_thread.start()
    return f"http://127.0.0.1:{world.web.server_port}"


def _quiet_logs() -> dict[str, int]:
    """Keep the connector's own INFO lines out of the narration; warnings still show."""
    levels = {}
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.WARNING)
    return levels


def start_world(world: DemoWorld, contacts: int, directory: Path) -> Runtime:
    """Migrate a fresh database, start the web app and a seeded sandbox that calls it."""
    from connector.db.migrate import upgrade  # here: importing Alembic logs at INFO

    database_url = f"sqlite:///{directory / 'connector.db'}"
    upgrade(database_url)
    world.say(f"database ready: {directory / 'connector.db'} (migrations applied)")
    mount = _Mount()
    web_url = _start_web(world, mount)
    config = SandboxConfig(contacts=contacts, webhook_url=f"{web_url}/webhooks/hubspot",
                           client_secret=secrets.token_urlsafe(24),
                           access_token=secrets.token_urlsafe(24), **SANDBOX_LIMITS)
    world.sandbox = run_in_thread(config)
    world.say(f"sandbox HubSpot at {world.sandbox.url} with {contacts:,} contacts; "
              f"its webhooks go to {web_url}/webhooks/hubspot")
    settings = Settings(
        hubspot_access_token=config.access_token, hubspot_client_secret=config.client_secret,
        hubspot_base_url=world.sandbox.url, public_url=web_url, database_url=database_url,
        rate_limit_per_10s=1_500, search_rate_per_s=40.0,
        dashboard_token=secrets.token_urlsafe(18), workflow_webhook_key=secrets.token_urlsafe(18),
        log_format="text",
        # the sandbox plays the gift-card provider too (Tremendous' orders API)
        tremendous_api_key=SANDBOX_API_KEY, tremendous_base_url=f"{world.sandbox.url}/api/v2",
    )
    runtime = Runtime(settings)
    mount.app = create_app(runtime=runtime)
    return runtime


def _top_advocate(report: dict[str, Any]) -> tuple[str, str] | None:
    """The id and tier of the report's first top advocate, if any."""
    top = report.get("top_advocates") or []
    return (str(top[0]["contact_id"]), str(top[0]["tier"] or "scored")) if top else None


def score_command(runtime: Runtime, contact_id: str) -> str:
    """The shell line that scores one contact live from the demo's sandbox."""
    settings = runtime.settings
    # the sandbox's token is made up for this run: showing it is how the newcomer uses it
    return (f"HUBSPOT_BASE_URL={settings.hubspot_base_url} "
            f"HUBSPOT_ACCESS_TOKEN={settings.hubspot_access_token} "
            f"DATABASE_URL={settings.database_url} connector score {contact_id} --explain")


def next_steps(report: dict[str, Any], runtime: Runtime, *, serve: bool) -> list[str]:
    """The closing lines: what a newcomer can do next with what the demo left behind."""
    database = runtime.settings.database_url
    top = _top_advocate(report)
    lines = ["", "[bold]Next[/bold]"]
    if serve:
        lines.append("  The dashboard shows this report with charts: its address and token follow.")
        if top:
            advocate, tier = top
            lines.append(f"  Why top advocate {advocate} is {tier}, signal by signal "
                         "(in another terminal):")
            lines.append(f"    {score_command(runtime, advocate)}")
    else:
        lines.append("  `connector demo --serve` keeps the sandbox HubSpot and the dashboard "
                     "running and prints the dashboard's address and token")
        if top:
            advocate, tier = top
            lines.append(f"  then `connector score {advocate} --explain` shows why top advocate "
                         f"{advocate} is {tier}, signal by signal (--serve prints the full "
                         "command, with the sandbox's address and token)")
    lines.append(f"  The demo's database is {database.removeprefix('sqlite:///')}; read the "
                 f"report again with `DATABASE_URL={database} connector report` (or --json)")
    lines.append("  `make test` runs the test suite; README.md connects a real HubSpot portal")
    return lines


def serve_forever(world: DemoWorld, runtime: Runtime) -> None:
    """Keep everything up, with a worker handling webhooks, until Ctrl-C."""
    stop = StopFlag()
    worker = threading.Thread(target=run_worker, args=(runtime,), name="demo-worker",
                              kwargs={"options": WorkerOptions(idle_sleep_s=0.5), "stop": stop},
                              daemon=True)
    worker.start()
    url = runtime.settings.public_url
    assert world.sandbox is not None
    world.console.print(
        f"\n[bold]Dashboard[/bold]  {url}/dashboard\n"
        f"[bold]Token[/bold]      {runtime.settings.dashboard_token}\n"
        f"[bold]Sandbox[/bold]    {world.sandbox.url} (edit contacts with POST "
        f"/_sandbox/contacts/<id>/properties; the worker reacts)\n"
        f"Press Ctrl-C to stop."
    )
    try:
        while worker.is_alive():
            worker.join(timeout=0.5)
    except KeyboardInterrupt:
        world.console.print("stopping")
    finally:
        stop.event.set()
        worker.join(timeout=10)


def run_demo(*, serve: bool, contacts: int, directory: str | None,
             console: Console | None = None) -> dict[str, Any]:
    """Run the story end to end, print the report and return it; with `serve`, keep running."""
    if contacts < 200:
        raise UserError("--contacts: the story needs at least 200 contacts")
    world = DemoWorld(console or Console(highlight=False))
    levels = _quiet_logs()
    where = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="advocate-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    if (where / "connector.db").exists():
        raise UserError(f"{where / 'connector.db'} exists; the demo starts from an empty "
                        "database: remove it or pick another --dir")
    try:
        runtime = start_world(world, contacts, where)
        assert world.sandbox is not None
        Story(world.say, runtime, world.sandbox).play()
        report = load_report(runtime)
        world.console.print()
        print_report(report, world.console)
        world.say("demo finished")
        for line in next_steps(report, runtime, serve=serve):
            world.console.print(line, soft_wrap=True, highlight=False)
        if serve:
            serve_forever(world, runtime)
        return report
    finally:
        world.stop()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
