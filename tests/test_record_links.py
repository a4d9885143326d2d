"""The dashboard links contacts to their records in HubSpot once the account is known; the
account is read from HubSpot once (install, or the clock for older installs)."""

from __future__ import annotations

from fixtures_sync import SyncSetup
from sqlalchemy.orm import Session

from connector.db.models import PortalAccount
from connector.runtime import Runtime
from connector.sync.account import remember_account
from connector.web.app import create_app

BEARER = {"Authorization": "Bearer dashboard-token"}


def test_the_dashboard_links_contacts_once_the_account_is_known(program_sqlite, settings):
    client = create_app(Runtime(settings, engine=program_sqlite.engine)).test_client()
    page = client.get("/dashboard", headers=BEARER).text
    assert "/record/0-1/" not in page  # not known yet: bare ids
    assert client.get("/dashboard/data.json", headers=BEARER).json["hubspot"] is None
    with Session(program_sqlite.engine) as session, session.begin():
        session.add(PortalAccount(portal_id=62515, ui_domain="app-eu1.hubspot.com"))
    page = client.get("/dashboard", headers=BEARER).text
    # the top advocate, the reward waiting for approval, the dead event's contact
    assert page.count('href="https://app-eu1.hubspot.com/contacts/62515/record/0-1/1"') == 2
    assert 'href="https://app-eu1.hubspot.com/contacts/62515/record/0-1/5"' in page
    assert 'rel="noopener noreferrer"' in page


def test_the_account_is_read_from_hubspot_once(sync_setup: SyncSetup) -> None:
    handle, runtime = sync_setup(portal_id=4711)
    first = remember_account(runtime)
    assert (first.portal_id, first.ui_domain) == (4711, "app.hubspot.com")
    assert remember_account(runtime).portal_id == 4711
    assert handle.stats()["requests"] == {"GET /account-info/v3/details": 1}
