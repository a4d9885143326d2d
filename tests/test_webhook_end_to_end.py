"""End to end: an NPS change in the sandbox reaches the score on the record, with no sync run.

Sandbox (HubSpot over HTTP, sending signed webhooks) -> the web app on a real port -> inbox ->
worker -> re-read, re-score and write-back to the sandbox.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from fixtures_sync import install_properties
from werkzeug.serving import make_server

from connector.queue.inbox import list_events
from connector.runtime import Runtime
from connector.scoring.engine import score_contact
from connector.sync.passes import run_sync
from connector.web.app import create_app
from connector.worker.loop import StopFlag, WorkerOptions, run_worker

NPS = "hs_feedback_last_nps_rating"
SEARCH = "POST /crm/v3/objects/contacts/search"


@pytest.fixture
def web_server(settings, sqlite_engine) -> Iterator[tuple[str, Runtime]]:
    """The connector's web app on a free port (URL rebuilt from the request: no public URL)."""
    runtime = Runtime(dataclasses.replace(settings, public_url=None), engine=sqlite_engine)
    server = make_server("127.0.0.1", 0, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", runtime
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["legacy", "generic"])
def test_nps_change_updates_the_score_within_seconds(make_sandbox, web_server, shape):
    # legacy: contact.propertyChange (a legacy private app); generic: object.propertyChange
    # with objectTypeId 0-1 (a developer-platform app's crmObjects subscription)
    base, web_runtime = web_server
    handle = make_sandbox(webhook_url=base + "/webhooks/hubspot", client_secret="test-secret",
                          webhook_shape=shape)
    install_properties(handle, web_runtime.settings)
    runtime = Runtime(dataclasses.replace(web_runtime.settings, hubspot_base_url=handle.url,
                                          hubspot_access_token="sandbox-token"),
                      engine=web_runtime.engine)
    run_sync(runtime)  # the starting scores
    score_name = runtime.property_schema.name("score")

    # a contact whose score moves when its NPS flips between promoter and detractor
    now = datetime.now(UTC)
    chosen, new_nps, expected = None, "", -1
    for contact in handle.portal.live_contacts():
        props = dict(handle.portal.get_contact(contact.id).properties)
        flipped = "0" if props.get(NPS) in ("9", "10") else "10"
        after = score_contact({**props, NPS: flipped}, runtime.mapping, now).score
        if str(after) != props.get(score_name):
            chosen, new_nps, expected = str(contact.id), flipped, after
            break
    assert chosen, "the seed has no contact whose score depends on NPS"

    searches = handle.stats()["requests"].get(SEARCH, 0)
    stop = StopFlag()
    worker = threading.Thread(target=run_worker, args=(runtime,), daemon=True,
                              kwargs={"options": WorkerOptions(idle_sleep_s=0.05), "stop": stop})
    worker.start()
    try:
        started = time.monotonic()
        response = requests.patch(
            f"{handle.url}/crm/v3/objects/contacts/{chosen}", timeout=5,
            headers={"Authorization": "Bearer sandbox-token"},
            json={"properties": {NPS: new_nps}})
        assert response.status_code == 200
        while handle.portal.get_contact(chosen).properties.get(score_name) != str(expected):
            assert time.monotonic() - started < 10, "the score did not follow the NPS change"
            time.sleep(0.05)
    finally:
        stop.event.set()
        worker.join(timeout=10)
    assert handle.stats()["requests"].get(SEARCH, 0) == searches  # no sync pass ran
    handled = list_events(runtime.engine, status="done")
    assert any(e["object_id"] == chosen for e in handled)
    # stored as the legacy event it means, whichever shape HubSpot sent
    assert {e["subscription_type"] for e in handled if e["object_id"] == chosen} == {
        "contact.propertyChange"}
