"""The dashboard cannot be guessed into: wrong bearer tokens and wrong logins share one budget
per address, X-Forwarded-For counts only behind configured proxies, and every wrong token is
logged with its address and never with the token."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from fixtures_webhooks import HubSpotSigner, contact_event

from connector.config import ConfigError, Settings
from connector.runtime import Runtime
from connector.web import dashboard_auth
from connector.web.app import create_app

TOKEN = "dashboard-token"  # the `settings` fixture's
ATTEMPTS = dashboard_auth.LOGIN_ATTEMPTS
ACTIONS = ["/dashboard/rewards/3/approve", "/dashboard/rewards/3/reject",
           "/dashboard/rewards/3/paid", "/dashboard/events/5/replay"]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(dashboard_auth, "clock", lambda: 1_800_000_000.0)


def app_with(settings, engine, **changes):
    return create_app(runtime=Runtime(dataclasses.replace(settings, **changes), engine=engine))


@pytest.fixture
def client(settings, program_sqlite):
    return app_with(settings, program_sqlite.engine).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_wrong_bearer_tokens_on_the_json_are_throttled(client) -> None:
    statuses = [client.get("/dashboard/data.json", headers=bearer(f"guess-{n}"),
                           environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
                for n in range(40)]
    assert statuses[:ATTEMPTS] == [401] * ATTEMPTS
    assert set(statuses[ATTEMPTS:]) == {429}
    # even the right token waits: a throttled guess learns nothing
    right = client.get("/dashboard/data.json", headers=bearer(TOKEN),
                       environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert right.status_code == 429
    assert 0 < int(right.headers["Retry-After"]) <= dashboard_auth.LOGIN_WINDOW_S + 1
    other = client.get("/dashboard/data.json", headers=bearer(TOKEN),
                       environ_base={"REMOTE_ADDR": "10.0.0.10"})
    assert other.status_code == 200


@pytest.mark.parametrize("path", ACTIONS)
def test_wrong_bearer_tokens_on_the_actions_are_throttled(client, path) -> None:
    statuses = [client.post(path, headers=bearer("guess"),
                            environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
                for _ in range(ATTEMPTS + 3)]
    assert statuses == [401] * ATTEMPTS + [429] * 3
    right = client.post(path, headers=bearer(TOKEN), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert right.status_code == 429 and right.headers["Retry-After"]


def test_logins_and_bearer_tokens_share_one_budget(client) -> None:
    address = {"REMOTE_ADDR": "10.0.0.7"}
    for n in range(ATTEMPTS - 1):
        assert client.post("/dashboard/login", data={"token": f"guess-{n}"},
                           environ_base=address).status_code == 401
    assert client.post(ACTIONS[0], headers=bearer("guess"),
                       environ_base=address).status_code == 401
    assert client.post("/dashboard/login", data={"token": TOKEN},
                       environ_base=address).status_code == 429
    assert client.get("/dashboard/data.json", headers=bearer(TOKEN),
                      environ_base=address).status_code == 429


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client) -> None:
    """A client naming its own address in X-Forwarded-For gets no fresh budget."""
    statuses = [client.post("/dashboard/login", data={"token": "guess"},
                            headers={"X-Forwarded-For": f"192.0.2.{n}"},
                            environ_base={"REMOTE_ADDR": "10.0.0.3"}).status_code
                for n in range(30)]
    assert statuses[:ATTEMPTS] == [401] * ATTEMPTS
    assert set(statuses[ATTEMPTS:]) == {429}


def test_behind_one_trusted_proxy_the_address_it_saw_counts(settings, program_sqlite) -> None:
    client = app_with(settings, program_sqlite.engine, trusted_proxy_hops=1).test_client()
    proxy = {"REMOTE_ADDR": "10.1.1.1"}

    def guess(forwarded: str) -> int:
        return client.post("/dashboard/login", data={"token": "guess"}, environ_base=proxy,
                           headers={"X-Forwarded-For": forwarded}).status_code

    # the client's own header comes first; the proxy appends the address it saw
    statuses = [guess(f"192.0.2.{n}, 198.51.100.7") for n in range(ATTEMPTS + 2)]
    assert statuses == [401] * ATTEMPTS + [429, 429]
    assert guess("198.51.100.8") == 401  # another client behind the same proxy


def test_trusted_proxy_hops_from_the_environment() -> None:
    assert Settings.from_env({}).trusted_proxy_hops == 0
    assert Settings.from_env({"TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        Settings.from_env({"TRUSTED_PROXY_HOPS": "-1"})


def test_forwarded_scheme_and_host_count_only_behind_trusted_proxies(settings,
                                                                    sqlite_engine) -> None:
    """Without CONNECTOR_PUBLIC_URL the signed URL is the request's own; a client's
    X-Forwarded-Proto/Host do not rebuild it unless a proxy is configured."""
    signer = HubSpotSigner("test-secret", "https://hooks.example.com")
    body = json.dumps([contact_event(1)]).encode()
    headers = signer.headers(body) | {"X-Forwarded-Proto": "https",
                                      "X-Forwarded-Host": "hooks.example.com"}
    bare = app_with(settings, sqlite_engine, public_url=None).test_client()
    assert bare.post("/webhooks/hubspot", data=body, headers=headers).status_code == 401
    proxied = app_with(settings, sqlite_engine, public_url=None,
                       trusted_proxy_hops=1).test_client()
    assert proxied.post("/webhooks/hubspot", data=body, headers=headers).status_code == 204


def test_wrong_tokens_are_logged_with_the_address_never_the_token(client, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="connector.web.dashboard")
    client.post("/dashboard/login", data={"token": "hunter2-guess"},
                environ_base={"REMOTE_ADDR": "10.0.0.4"})
    client.get("/dashboard/data.json", headers=bearer("bearer-guess-xyz"),
               environ_base={"REMOTE_ADDR": "10.0.0.5"})
    records = [r for r in caplog.records if r.name == "connector.web.dashboard"]
    assert [(r.levelno, r.client_address) for r in records] == [  # type: ignore[attr-defined]
        (logging.WARNING, "10.0.0.4"), (logging.WARNING, "10.0.0.5")]
    text = caplog.text + " ".join(str(vars(r)) for r in records)
    assert "hunter2-guess" not in text and "bearer-guess-xyz" not in text
    assert TOKEN not in text
