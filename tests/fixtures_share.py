"""Share-link fixtures: the connector's web app on a real port (its public URL) in front of a
sandbox portal whose landing page holds the referral form."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from connector.config import PROJECT_ROOT
from connector.runtime import Runtime
from connector.sandbox.server import SandboxHandle
from connector.web.app import create_app

BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/121.0.0.0 Safari/537.36")


@dataclass
class ShareWorld:
    sandbox: SandboxHandle
    runtime: Runtime
    public_url: str
    landing_page: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def share_world(sync_setup: Callable[..., Any], tmp_path: Path
                ) -> Iterator[Callable[..., ShareWorld]]:
    """make(**sandbox overrides) -> a ShareWorld: the program's landing page is the sandbox's,
    and the connector's web app answers at its public URL."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def make(**overrides: Any) -> ShareWorld:
        handle, runtime = sync_setup(**overrides)
        landing = f"{handle.url}/_sandbox/landing"
        program = (PROJECT_ROOT / "workflows" / "program.yaml").read_text()
        path = tmp_path / "program.yaml"
        path.write_text(program.replace('landing_page: "https://example.com/refer"',
                                        f'landing_page: "{landing}"'))
        port = _free_port()
        public = f"http://127.0.0.1:{port}"
        # behind one proxy (the platform's router): X-Forwarded-For names the visitor
        runtime = Runtime(dataclasses.replace(runtime.settings, public_url=public,
                                              program_path=path, trusted_proxy_hops=1),
                          engine=runtime.engine)
        assert runtime.program.landing_page == landing
        server = make_server("127.0.0.1", port, create_app(runtime), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return ShareWorld(handle, runtime, public, landing)

    yield make
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
