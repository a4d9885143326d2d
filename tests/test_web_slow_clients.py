"""The Procfile's web process keeps answering HubSpot while slow, unauthenticated clients
trickle their requests, and refuses a body over 1 MiB however it is sent.

Real sockets against the real process (gunicorn as the Procfile starts it) on PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from fixtures_procfile import WebProcess, WebProcessFactory
from fixtures_webhooks import HubSpotSigner, contact_event
from sqlalchemy import Engine, func, select

from connector.db.models import InboxEvent

pytestmark = pytest.mark.postgres

SECRET = "slow-client-secret"
SLOW_CLIENTS = 8
TRICKLE_EVERY_S = 2.0
DELIVERIES = 40


@pytest.fixture
def web(procfile_web: WebProcessFactory, pg_database_url: str, pg_engine: Engine) -> WebProcess:
    return procfile_web(DATABASE_URL=pg_database_url, HUBSPOT_CLIENT_SECRET=SECRET)


class Tricklers:
    """Connections that send headers, then one byte of their body every 2 s, never finishing."""

    def __init__(self, base: str, count: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sockets = []
        for index in range(count):
            sock = socket.create_connection((host, int(port)), timeout=5)
            path = "/webhooks/hubspot" if index % 2 == 0 else "/webhooks/workflow/milestone"
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
                         .encode())
            self.sockets.append(sock)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopping.wait(TRICKLE_EVERY_S):
            for sock in self.sockets:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass

    def still_open(self) -> int:
        """How many of them the server has not closed (a closed one reads EOF)."""
        open_ = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_ += sock.recv(1) != b""
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return open_

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def tricklers(web: WebProcess) -> Iterator[Tricklers]:
    slow = Tricklers(web.base, SLOW_CLIENTS)
    time.sleep(1.0)  # accepted, and (on a blocking server) holding their workers
    yield slow
    slow.close()


def test_signed_webhooks_are_acknowledged_within_a_second_with_8_slow_clients_open(
        web: WebProcess, tricklers: Tricklers, pg_engine: Engine) -> None:
    signer = HubSpotSigner(SECRET, web.base)
    latencies, statuses = [], []
    for n in range(DELIVERIES):
        body = json.dumps([contact_event(1000 + n)]).encode()
        started = time.perf_counter()
        try:
            # a new connection each time, as HubSpot's deliveries come
            response = requests.post(web.base + "/webhooks/hubspot", data=body, timeout=5,
                                     headers=signer.headers(body) | {"Connection": "close"})
            statuses.append(response.status_code)
        except requests.RequestException as exc:
            statuses.append(type(exc).__name__)
        latencies.append(time.perf_counter() - started)
        time.sleep(0.1)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    assert statuses == [204] * DELIVERIES, statuses
    assert p99 < 1.0, f"p99 {p99:.3f} s with {SLOW_CLIENTS} slow clients open"
    assert tricklers.still_open() == SLOW_CLIENTS  # they were there all along
    with pg_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == DELIVERIES


def chunked(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


@pytest.mark.parametrize("path", ["/webhooks/hubspot", "/webhooks/workflow/milestone",
                                  "/app/actions/invite_advocate"])
def test_a_chunked_body_over_1_mib_is_413(web: WebProcess, pg_engine: Engine,
                                         path: str) -> None:
    signer = HubSpotSigner(SECRET, web.base)
    body = b"[" + b" " * (1024 * 1024 + 10) + b"]"
    headers = signer.headers(body, path=path)
    # a generator body goes out with Transfer-Encoding: chunked and no Content-Length
    response = requests.post(web.base + path, data=chunked(body), headers=headers, timeout=10)
    assert response.status_code == 413
    # the same size with a Content-Length, and a small chunked body, for comparison
    sized = requests.post(web.base + path, data=body, headers=headers, timeout=10)
    assert sized.status_code == 413
    small = json.dumps([contact_event(5)]).encode()
    ok = requests.post(web.base + "/webhooks/hubspot", data=chunked(small, 7), timeout=10,
                       headers=signer.headers(small))
    assert ok.status_code == 204
    with pg_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 1
