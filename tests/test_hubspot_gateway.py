"""The gateway over the SDK's urllib3 path, against a tiny scripted HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.db.models import ApiUsage
from connector.hubspot.client import HubSpotApis
from connector.hubspot.gateway import HubSpotGateway
from connector.hubspot.limiter import MemoryLimiter, budgets_from_settings
from connector.hubspot.retry import RetryPolicy

Answer = tuple[int, dict[str, str], Any]
Script = Callable[[str, str, Any], Answer]


class ScriptedServer:
    """Answers each request with `script(method, path, json body)`; records what it got."""

    def __init__(self) -> None:
        self.script: Script = lambda m, p, b: (404, {}, {"status": "error"})
        self.requests: list[tuple[str, str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.requests.append((self.command, self.path, body))
                status, headers, payload = outer.script(self.command, self.path, body)
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(settings: Settings, server: ScriptedServer, sleeps: list[float]) -> HubSpotGateway:
    settings = replace(settings, hubspot_base_url=server.url, request_timeout=(1.0, 0.5))
    return HubSpotGateway(HubSpotApis(settings), MemoryLimiter(budgets_from_settings(settings)),
                          policy=RetryPolicy(max_attempts=4, sleep=sleeps.append))


def _contact(contact_id: str, **props: str) -> dict[str, Any]:
    return {"id": contact_id, "properties": {"hs_object_id": contact_id, **props},
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00Z",
            "archived": False}


def _batch(results: list[dict[str, Any]], errors: list[dict[str, Any]] | None = None) -> Any:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results,
                            "startedAt": "2024-01-01T00:00:00Z",
                            "completedAt": "2024-01-01T00:00:01Z"}
    if errors:
        body["errors"] = errors
    return body


def test_batch_read_sends_properties_in_the_body_in_hundreds(
    gateway: HubSpotGateway, server: ScriptedServer,
) -> None:
    def script(method: str, path: str, body: Any) -> Answer:
        return 200, {}, _batch([_contact(i["id"], email=f"{i['id']}@x.test")
                                for i in body["inputs"]])

    server.script = script
    properties = [f"custom_property_{n}" for n in range(300)]
    contacts = gateway.read_contacts([str(i) for i in range(1, 251)], properties)
    assert [c.id for c in contacts] == [str(i) for i in range(1, 251)]
    assert [len(b["inputs"]) for _, _, b in server.requests] == [100, 100, 50]
    method, path, body = server.requests[0]
    assert method == "POST" and path.startswith("/crm/v3/objects/contacts/batch/read")
    assert body["properties"] == properties and "custom_property" not in path


def test_get_contact_by_email_uses_the_email_id_property(
    gateway: HubSpotGateway, server: ScriptedServer,
) -> None:
    server.script = lambda m, p, b: (200, {}, _batch([_contact("7", email="a@x.test")]))
    contact = gateway.get_contact("a@x.test", ["email"])
    assert contact is not None and contact.id == "7"
    assert contact.properties["email"] == "a@x.test"
    assert server.requests[0][2]["idProperty"] == "email"
    server.script = lambda m, p, b: (404, {}, {"status": "error", "category": "OBJECT_NOT_FOUND"})
    assert gateway.get_contact("8", ["email"]) is None


def test_rate_limited_batch_read_is_retried_after_the_interval(
    gateway: HubSpotGateway, server: ScriptedServer, sleeps: list[float],
) -> None:
    answers = iter([
        (429, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
         {"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}),
        (200, {}, _batch([_contact("1")])),
    ])
    server.script = lambda m, p, b: next(answers)
    assert [c.id for c in gateway.read_contacts(["1"], ["email"])] == ["1"]
    assert sleeps == [10.0]
    assert gateway.usage()["rate_limited"] == 1


def test_read_timeout_is_retried(gateway: HubSpotGateway, server: ScriptedServer,
                                 sleeps: list[float]) -> None:
    calls = []

    def script(method: str, path: str, body: Any) -> Answer:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)  # longer than the 0.5 s read timeout
        return 200, {}, _batch([_contact("1")])

    server.script = script
    assert [c.id for c in gateway.read_contacts(["1"], ["email"])] == ["1"]
    assert len(calls) == 2 and len(sleeps) == 1


def test_207_errors_are_reported_per_id(gateway: HubSpotGateway, server: ScriptedServer) -> None:
    server.script = lambda m, p, b: (207, {}, _batch(
        [_contact("1")],
        [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found",
          "context": {"ids": ["2"]}}],
    ))
    result = gateway.update_contacts({"1": {"advocate_tier": "ready"},
                                      "2": {"advocate_tier": "ready"}})
    assert result.updated == ["1"]
    assert result.errors == {"2": "OBJECT_NOT_FOUND: not found"}


def test_one_bad_value_does_not_lose_the_other_99(gateway: HubSpotGateway,
                                                  server: ScriptedServer) -> None:
    def script(method: str, path: str, body: Any) -> Answer:
        if any(i["properties"].get("advocate_tier") == "bogus" for i in body["inputs"]):
            return 400, {}, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "Property values were not valid"}
        return 200, {}, _batch([_contact(i["id"]) for i in body["inputs"]])

    server.script = script
    updates = {str(i): {"advocate_tier": "ready"} for i in range(1, 101)}
    updates["37"] = {"advocate_tier": "bogus"}
    result = gateway.update_contacts(updates)
    assert sorted(result.updated, key=int) == [str(i) for i in range(1, 101) if i != 37]
    assert result.errors == {"37": "VALIDATION_ERROR: Property values were not valid"}
    assert len(server.requests) <= 15  # halving, not one call per contact


def test_forbidden_is_raised_not_split(gateway: HubSpotGateway, server: ScriptedServer) -> None:
    server.script = lambda m, p, b: (403, {}, {"status": "error", "category": "MISSING_SCOPES"})
    with pytest.raises(ApiException):
        gateway.update_contacts({"1": {"advocate_tier": "ready"}, "2": {"advocate_tier": "x"}})
    assert len(server.requests) == 1


def test_search_pages_go_through_the_sdk(gateway: HubSpotGateway, server: ScriptedServer) -> None:
    def script(method: str, path: str, body: Any) -> Answer:
        after = int(body["filterGroups"][0]["filters"][0]["value"]) if body["filterGroups"] else 0
        ids = [i for i in range(1, 451) if i > after][:body["limit"]]
        page = [_contact(str(i), lastmodifieddate="2024-01-01T00:00:00Z") for i in ids]
        more = ids and ids[-1] < 450
        return 200, {}, {"total": 450, "results": page,
                         **({"paging": {"next": {"after": "200"}}} if more else {})}

    server.script = script
    pages = list(gateway.iter_contacts(["email"]))
    assert [len(p) for p in pages] == [200, 200, 50]
    assert gateway.usage()["by_endpoint"]["POST /crm/v3/objects/contacts/search"] == {"200": 3}


def test_record_usage_adds_hourly_counts(gateway: HubSpotGateway, server: ScriptedServer,
                                         engine: Engine) -> None:
    server.script = lambda m, p, b: (200, {}, _batch([_contact("1")]))
    gateway.read_contacts(["1"], ["email"])
    gateway.read_contacts(["1"], ["email"])
    with Session(engine) as session, session.begin():
        assert gateway.record_usage(session) == 2
    gateway.read_contacts(["1"], ["email"])
    with Session(engine) as session, session.begin():
        assert gateway.record_usage(session) == 1
        assert gateway.record_usage(session) == 0
    with Session(engine) as session:
        rows = session.scalars(select(ApiUsage)).all()
    assert [(r.endpoint, r.status, r.calls) for r in rows] == [
        ("POST /crm/v3/objects/contacts/batch/read", 200, 3)
    ]
