"""The friend's path over real HTTP: the advocate's referral_link in the sandbox, the share
link in the connector's web app, the company's form on the sandbox's landing page, and the
contact the form creates, attributed to the advocate."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import requests
from fixtures_share import BROWSER, ShareWorld
from sqlalchemy import func, select

from connector.cli.installer import Installer
from connector.db.models import ContactState, Referral, ShareClick
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts
from connector.worker.loop import WorkerOptions, work_once

HIDDEN = re.compile(r"<input type='hidden' name='referred_by_code' value='([^']*)'>")


def first_advocate(world: ShareWorld) -> ContactState:
    run_sync(world.runtime)
    flush_outbox(world.runtime)
    with world.runtime.sessions() as session:
        advocate = session.scalars(select(ContactState).where(
            ContactState.referral_code.is_not(None)).order_by(ContactState.contact_id)).first()
    assert advocate is not None, "the seed has ready contacts: some must be invited"
    return advocate


def counted_clicks(world: ShareWorld) -> int:
    with world.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ShareClick).where(
            ShareClick.outcome == "counted")) or 0)


def test_the_referral_link_lands_on_the_form_and_the_friend_is_attributed(
        share_world: Callable[..., ShareWorld]) -> None:
    world = share_world()
    advocate = first_advocate(world)
    code = advocate.referral_code
    assert code is not None
    link = world.sandbox.portal.get_contact(advocate.contact_id).properties["referral_link"]
    assert link == f"{world.public_url}/r/{code}"

    # link previews and HEAD requests see where it goes, and count nothing
    for agent in ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
                  "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient)"):
        assert requests.get(link, headers={"User-Agent": agent}, timeout=5).status_code == 200
    assert requests.head(link, headers={"User-Agent": BROWSER}, timeout=5).status_code == 302
    assert counted_clicks(world) == 0

    # the friend clicks (typed in lower case, as people copy codes), the form fills itself
    page = requests.get(link.replace(code, code.lower()), headers={"User-Agent": BROWSER},
                        timeout=5)
    assert page.status_code == 200
    assert [r.status_code for r in page.history] == [302]
    landed = urlsplit(page.url)
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == world.landing_page
    query = parse_qs(landed.query)
    assert query["referred_by_code"] == [code]
    assert (query["utm_source"], query["utm_medium"], query["utm_campaign"]) == (
        ["referral"], ["advocate"], ["advocate-referrals"])
    assert HIDDEN.findall(page.text) == [code]
    assert counted_clicks(world) == 1

    # the friend submits the form: HubSpot creates the contact with the hidden field's value
    sent = requests.post(page.url, timeout=5, data={
        "email": "friend.from.link@friends.test", "firstname": "Linked",
        "referred_by_code": HIDDEN.findall(page.text)[0]})
    assert sent.status_code == 201
    friend = world.sandbox.portal.find_by("email", "friend.from.link@friends.test")
    assert friend is not None and friend.properties["referred_by_code"] == code
    rescore_contacts(world.runtime, [str(friend.id)], reason="contact.creation")
    with world.runtime.sessions() as session:
        referral = session.scalar(select(Referral).where(
            Referral.referred_contact_id == str(friend.id)))
    assert referral is not None
    assert (referral.advocate_contact_id, referral.code) == (advocate.contact_id, code)


def click(world: ShareWorld, code: str, address: str, agent: str = BROWSER) -> None:
    """One click from `address` (the web app trusts one X-Forwarded-For hop, as behind the
    platform's router); the friend is not sent on to the landing page."""
    answer = requests.get(f"{world.public_url}/r/{code}", allow_redirects=False, timeout=5,
                          headers={"User-Agent": agent, "X-Forwarded-For": address})
    assert answer.status_code == 302


def shared_enrollments(world: ShareWorld) -> dict[str, int]:
    """Enrollments in the `shared` flow `connector install` created, per contact."""
    flows = world.sandbox.portal.flows
    with world.sandbox.portal.lock:
        [legacy] = [str(flows.legacy_ids[i]) for i, f in flows.flows.items()
                    if f["name"] == "Advocate connector: shared"]
        counts: dict[str, int] = {}
        for enrollment in flows.enrollments:
            if enrollment["workflowId"] == legacy:
                counts[enrollment["contactId"]] = counts.get(enrollment["contactId"], 0) + 1
    return counts


def test_clicks_reach_the_advocates_in_batch_writes_and_shared_fires_once(
        share_world: Callable[..., ShareWorld]) -> None:
    world = share_world()
    runtime, sandbox = world.runtime, world.sandbox
    Installer(runtime.gateway, runtime.property_schema, runtime.program).plan().apply()
    first_advocate(world)
    with runtime.sessions() as session:
        advocates = session.scalars(select(ContactState).where(
            ContactState.referral_code.is_not(None)).order_by(ContactState.contact_id)
            .limit(3)).all()
    assert len(advocates) == 3
    (a, a_code), (b, b_code), (c, _) = [(s.contact_id, str(s.referral_code)) for s in advocates]
    options = WorkerOptions(idle_sleep_s=0.01)
    work_once(runtime, options)
    requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5)

    # a: 12 people, each clicking three times; b: one person twice; bots for everyone
    for person in range(12):
        for _ in range(3):
            click(world, a_code, f"198.51.100.{person}")
    click(world, b_code, "203.0.113.5")
    click(world, b_code.lower(), "203.0.113.5")
    for code in (a_code, b_code):
        click(world, code, "192.0.2.1", agent="Slackbot-LinkExpanding 1.0")
        click(world, code, "192.0.2.2", agent="facebookexternalhit/1.1")
    work_once(runtime, options)

    record = {x: dict(sandbox.portal.get_contact(x).properties) for x in (a, b, c)}
    assert record[a]["referral_link_clicks"] == "12"
    assert record[b]["referral_link_clicks"] == "1"
    assert not record[c].get("referral_link_clicks")  # never clicked
    assert record[a]["referral_status"] == record[b]["referral_status"] == "shared"
    assert record[c]["referral_status"] == "invited"
    assert record[a]["referral_last_click_at"] and record[a]["referral_shared_trigger"]
    assert not record[c].get("referral_shared_trigger")
    # 38 clicks, two advocates: one batch update for both, nothing else
    calls = sandbox.stats()["requests"]
    assert calls == {"POST /crm/v3/objects/contacts/batch/update": 1}, calls
    assert shared_enrollments(world) == {a: 1, b: 1}

    # more clicks later: the counts move, the `shared` step does not fire again
    click(world, a_code, "198.51.100.200")
    click(world, b_code, "203.0.113.6")
    for _ in range(3):  # and the worker going round with nothing new
        work_once(runtime, options)
    record = {x: dict(sandbox.portal.get_contact(x).properties) for x in (a, b)}
    assert (record[a]["referral_link_clicks"], record[b]["referral_link_clicks"]) == ("13", "2")
    assert shared_enrollments(world) == {a: 1, b: 1}
    assert sandbox.stats()["requests"] == {"POST /crm/v3/objects/contacts/batch/update": 2}
    # a full sync re-reads every advocate: it writes no click counts, moves no trigger back
    before = {x: dict(sandbox.portal.get_contact(x).properties) for x in (a, b)}
    run_sync(runtime, full=True)
    flush_outbox(runtime)
    after = {x: dict(sandbox.portal.get_contact(x).properties) for x in (a, b)}
    assert after == before
    assert shared_enrollments(world) == {a: 1, b: 1}
