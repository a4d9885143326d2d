"""`GET /r/<code>`: where the friend lands, which requests count as clicks, what is stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select

from connector.config import Settings
from connector.db.models import ContactState, ShareClick
from connector.db.session import transaction
from connector.runtime import Runtime
from connector.web import share_links
from connector.web.app import create_app

BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1")
# what link previewers and unfurlers send (their own documentation and server logs)
PREVIEWERS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/91.0.4472.114 Safari/537.36 Edge/91.0.864.59 SkypeUriPreview Preview/0.5",
    "WhatsApp/2.23.20.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "",
]
CODE = "ABCD2345"
DAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def web(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """(test client, runtime) on SQLite and PostgreSQL, with advocates in several states."""
    runtime = Runtime(dataclasses.replace(settings, database_url="unused"), engine=engine)
    with transaction(runtime.sessions) as session:
        session.add_all([
            ContactState(contact_id="1", referral_code=CODE, journey_state="invited",
                         written={}),
            ContactState(contact_id="2", referral_code="OPTD2345", journey_state="opted_out",
                         written={}),
            ContactState(contact_id="3", referral_code="GONE2345", journey_state="invited",
                         deleted_at=DAY, written={}),
            ContactState(contact_id="4", referral_code="MRGD2345", journey_state="invited",
                         merged_into="5", written={}),
            ContactState(contact_id="5", referral_code="SURV2345", journey_state="joined",
                         written={}),
        ])
    clock = {"now": DAY}
    monkeypatch.setattr(share_links, "utcnow", lambda: clock["now"])
    app = create_app(runtime)
    return app.test_client(), runtime, clock


def clicks(runtime: Runtime) -> list[ShareClick]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ShareClick).order_by(ShareClick.id)))


def landed(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    return f"{location.scheme}://{location.netloc}{location.path}", parse_qs(location.query)


def test_a_click_lands_on_the_form_with_the_code_and_the_campaign(web) -> None:
    client, runtime, _ = web
    response = client.get(f"/r/{CODE}", headers={"User-Agent": BROWSER})
    page, query = landed(response)
    assert page == "https://example.com/refer"
    assert query == {"referred_by_code": [CODE], "utm_source": ["referral"],
                     "utm_medium": ["advocate"], "utm_campaign": ["advocate-referrals"]}
    assert response.headers["Cache-Control"] == "no-store"
    [click] = clicks(runtime)
    assert (click.code, click.outcome, click.advocate_contact_id) == (CODE, "counted", "1")
    assert click.announced_at is None  # the worker still has to tell HubSpot


@pytest.mark.parametrize("typed", ["abcd2345", "%20AbCd2345%20", "ABCD2345%0A"])
def test_codes_match_as_attribution_matches_them(web, typed: str) -> None:
    client, runtime, _ = web
    _, query = landed(client.get(f"/r/{typed}", headers={"User-Agent": BROWSER}))
    assert query["referred_by_code"] == [CODE]
    assert [c.advocate_contact_id for c in clicks(runtime)] == ["1"]


@pytest.mark.parametrize(("path", "outcome"), [
    ("/r/ZZZZ9999", "unknown"),
    ("/r/not%20a%20code!", "malformed"),
    ("/r/" + "A" * 40, "malformed"),
    ("/r/OPTD2345", "opted_out"),
    ("/r/GONE2345", "removed"),
])
def test_a_code_that_credits_nobody_lands_without_a_code_and_is_counted_as_such(
        web, path: str, outcome: str) -> None:
    client, runtime, _ = web
    page, query = landed(client.get(path, headers={"User-Agent": BROWSER}))
    assert page == "https://example.com/refer" and "referred_by_code" not in query
    assert query["utm_campaign"] == ["advocate-referrals"]
    [click] = clicks(runtime)
    assert (click.code, click.outcome, click.advocate_contact_id) == ("", outcome, None)
    assert click.announced_at is not None  # nothing to tell any advocate


def test_a_merged_advocates_code_counts_for_the_surviving_contact(web) -> None:
    client, runtime, _ = web
    _, query = landed(client.get("/r/mrgd2345", headers={"User-Agent": BROWSER}))
    assert query["referred_by_code"] == ["MRGD2345"]  # attribution follows the merge too
    assert [(c.code, c.advocate_contact_id) for c in clicks(runtime)] == [("MRGD2345", "5")]


@pytest.mark.parametrize("agent", PREVIEWERS)
def test_bots_and_link_previews_are_redirected_but_not_counted(web, agent: str) -> None:
    client, runtime, _ = web
    _, query = landed(client.get(f"/r/{CODE}", headers={"User-Agent": agent}))
    assert query["referred_by_code"] == [CODE]
    assert clicks(runtime) == []


def test_head_requests_and_prefetches_are_not_clicks(web) -> None:
    client, runtime, _ = web
    landed(client.head(f"/r/{CODE}", headers={"User-Agent": BROWSER}))
    landed(client.get(f"/r/{CODE}", headers={"User-Agent": BROWSER, "Sec-Purpose": "prefetch"}))
    assert clicks(runtime) == []
    landed(client.get(f"/r/{CODE}", headers={"User-Agent": BROWSER}))
    assert len(clicks(runtime)) == 1


def requests_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("connector_share_link_requests_total",
                                     {"outcome": outcome}) or 0.0


def test_unique_clicks_per_code_per_day(web) -> None:
    client, runtime, clock = web
    before = {o: requests_counted(o) for o in ("counted", "repeat")}

    def click(agent: str = BROWSER, address: str = "198.51.100.7", code: str = CODE) -> None:
        landed(client.get(f"/r/{code}", headers={"User-Agent": agent},
                          environ_base={"REMOTE_ADDR": address}))

    for _ in range(5):  # one person clicking again and again
        click()
    click(agent=PHONE)  # the same address on another device: another person
    click(address="203.0.113.9")  # another address
    click(code="surv2345")  # the same person, another advocate's link
    clock["now"] = DAY + timedelta(hours=15)  # the next UTC day: counted again
    click()
    click()
    rows = clicks(runtime)
    assert [(r.day.isoformat(), r.code) for r in rows] == [
        ("2026-03-02", CODE), ("2026-03-02", CODE), ("2026-03-02", CODE),
        ("2026-03-02", "SURV2345"), ("2026-03-03", CODE)]
    # no address or user agent is kept, and the day changes the hash (no tracking over days)
    for row in rows:
        stored = " ".join(str(v) for v in vars(row).values())
        assert "198.51.100.7" not in stored and "Mozilla" not in stored
    # /metrics tells clicks from repeats the same way
    assert {o: requests_counted(o) - before[o] for o in before} == {"counted": 5, "repeat": 5}
    assert rows[0].visitor == rows[3].visitor  # one person, two links, one day
    assert rows[0].visitor != rows[-1].visitor
    assert len({r.visitor for r in rows}) == 4


def test_the_link_never_calls_hubspot_and_survives_a_database_outage(
        settings: Settings, tmp_path) -> None:
    # HubSpot at settings.hubspot_base_url does not answer; the database cannot be opened
    broken = Runtime(dataclasses.replace(
        settings, database_url=f"sqlite:///{tmp_path}/missing/dir/connector.db"))
    client = create_app(broken).test_client()
    _, query = landed(client.get("/r/abcd2345", headers={"User-Agent": BROWSER}))
    assert query["referred_by_code"] == [CODE]  # shaped like a code: attribution checks it
    _, query = landed(client.get("/r/not%20a%20code!", headers={"User-Agent": BROWSER}))
    assert "referred_by_code" not in query
    assert "gateway" not in broken.__dict__  # no HubSpot client was even built


def test_without_a_client_secret_links_still_redirect_but_count_nothing(web, settings) -> None:
    _, runtime, _ = web
    bare = Runtime(dataclasses.replace(runtime.settings, hubspot_client_secret=None),
                   engine=runtime.engine)
    client = create_app(bare).test_client()
    _, query = landed(client.get(f"/r/{CODE}", headers={"User-Agent": BROWSER}))
    assert query["referred_by_code"] == [CODE]
    assert clicks(runtime) == []


def test_the_visitor_key_comes_from_the_client_secret(settings: Settings) -> None:
    key = settings.visitor_key()
    assert key is not None and len(key) == 32
    assert settings.hubspot_client_secret is not None
    assert settings.hubspot_client_secret.encode() not in key
    assert dataclasses.replace(settings, hubspot_client_secret="other").visitor_key() != key
    assert dataclasses.replace(settings).visitor_key() == key  # every process derives the same


@pytest.mark.parametrize("path", ["/r", "/r/", "/r/a/b", "/r/%0A%0A"])
def test_a_mangled_link_still_lands_on_the_page(web, path: str) -> None:
    client, runtime, _ = web
    page, query = landed(client.get(path, headers={"User-Agent": BROWSER}))
    assert page == "https://example.com/refer" and "referred_by_code" not in query
    assert [c.outcome for c in clicks(runtime)] == ["malformed"]
