"""What the web process checks before it serves: the client secret, and a database that is
migrated (SQLite, the embedded default, is migrated instead). Used by gunicorn's master before
any worker starts and by `create_app`; imports nothing that loads prometheus-client."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from connector.config import Settings
from connector.db.migrate import ensure_schema
from connector.db.problems import database_problem
from connector.db.session import is_postgres, make_engine

log = logging.getLogger(__name__)


def check_web(settings: Settings) -> None:
    """UserError (one line) without the client secret or on a database not migrated.

    A database that does not answer is no reason to stop: webhooks get 503 (HubSpot retries)
    and /readyz says why until it answers.
    """
    settings.require_client_secret()
    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine, settings.database_url, apply=not is_postgres(engine))
    except SQLAlchemyError as exc:
        problem = database_problem(exc, settings.database_url)
        log.warning("starting without the database: %s",
                    problem.line if problem else type(exc).__name__)
    finally:
        engine.dispose()
