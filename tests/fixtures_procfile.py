"""The Procfile's web process, started as the platform starts it (on loopback, a free port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile_line(name: str) -> str:
    """The command of one Procfile process type."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} line in the Procfile")


class WebProcess:
    """A running Procfile `web` process: its base URL and how to stop it."""

    def __init__(self, env: dict[str, str]) -> None:
        line = procfile_line("web")
        assert "0.0.0.0:" in line, "the test binds the Procfile's web process to loopback"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        full = dict(os.environ)
        full.pop("CONNECTOR_PUBLIC_URL", None)
        full.update(env, PORT=str(port))
        full["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}"
        # a file, not a pipe: nobody reads the logs while it runs, and a full pipe would block it
        self.log = tempfile.TemporaryFile()
        # its own process group, so that stopping it stops gunicorn's workers too
        self.process = subprocess.Popen(
            ["bash", "-c", line.replace("0.0.0.0:", "127.0.0.1:")], cwd=ROOT, env=full,
            stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.base + "/healthz", timeout=1)
                return
            except requests.RequestException:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    problem = self.errors()
                    self.stop()
                    raise AssertionError(f"the Procfile's web process did not start: {problem}"
                                         ) from None
                time.sleep(0.1)

    def errors(self) -> str:
        """The end of what the process wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


WebProcessFactory = Callable[..., WebProcess]


@pytest.fixture
def procfile_web() -> Iterator[WebProcessFactory]:
    """Starts the Procfile's web process with extra environment; stops it after the test."""
    started: list[WebProcess] = []

    def start(**env: str) -> WebProcess:
        web = WebProcess(env)
        started.append(web)
        return web

    yield start
    for web in started:
        web.stop()
