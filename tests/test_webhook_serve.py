"""`connector serve` answers a signed HubSpot delivery over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from fixtures_procfile import free_port
from fixtures_webhooks import HubSpotSigner, contact_event
from sqlalchemy import func, select

from connector.cli.wiring import create_app
from connector.config import Settings
from connector.db.models import InboxEvent


def test_serve_stores_a_signed_delivery(sqlite_url, sqlite_engine):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=sqlite_url, HUBSPOT_CLIENT_SECRET="serve-secret")
    env.pop("CONNECTOR_PUBLIC_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(base + "/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        signer = HubSpotSigner("serve-secret", base)
        body = json.dumps([contact_event(1), contact_event(2)]).encode()
        response = requests.post(base + "/webhooks/hubspot", data=body,
                                 headers=signer.headers(body), timeout=5)
        assert response.status_code == 204
        forged = requests.post(base + "/webhooks/hubspot", data=body, timeout=5,
                               headers=HubSpotSigner("other", base).headers(body))
        assert forged.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InboxEvent)) == 2


def test_a_web_process_without_the_client_secret_stops_at_start(sqlite_url, capsys):
    env = dict(os.environ, DATABASE_URL=sqlite_url)
    env.pop("HUBSPOT_CLIENT_SECRET", None)
    served = subprocess.run(
        [sys.executable, "-m", "connector.cli", "serve", "--port", str(free_port())], env=env,
        capture_output=True, text=True, timeout=60)
    assert served.returncode == 2
    assert served.stderr.strip().splitlines() == [
        "error: HUBSPOT_CLIENT_SECRET is not set; set it to your app's client secret "
        "(the app's Auth tab in HubSpot)"]
    # gunicorn's entry (Procfile `web`) stops the same way, with the same line
    with pytest.raises(SystemExit) as stopped:
        create_app(Settings(database_url=sqlite_url))
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("error: HUBSPOT_CLIENT_SECRET is not set")
