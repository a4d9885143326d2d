"""Remembering the HubSpot account behind the token, so the dashboard can link each contact to
its record without calling HubSpot itself."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from connector.db.models import PortalAccount
from connector.db.session import transaction
from connector.hubspot.account import account_details

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)


def remember_account(runtime: Runtime) -> PortalAccount:
    """The stored account, read from HubSpot (one call) the first time."""
    with runtime.sessions() as session:
        known = session.scalars(select(PortalAccount).limit(1)).first()
        if known is not None:
            return known
    account = account_details(runtime.gateway)
    with transaction(runtime.sessions) as session:
        row = session.get(PortalAccount, account.portal_id) or PortalAccount(
            portal_id=account.portal_id, ui_domain=account.ui_domain)
        row.ui_domain = account.ui_domain
        session.add(row)
    log.info("HubSpot account %s remembered", account.portal_id)
    return row
