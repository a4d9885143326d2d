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

from connector.db.models import ContactState, Referral, ShareClick
from connector.sync.flush import flush_outbox
from connector.sync.passes import run_sync
from connector.sync.rescore import rescore_contacts

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
