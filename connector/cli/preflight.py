"""What the web process checks before it serves: the client secret, and a database that is
migrated (SQLite, the embedded default, is migrated instead). Used by gunicorn's master before
any worker starts and by `create_app`; imports nothing that loads prometheus-client."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from connector.config import Settings
from connector.db.migrate import ensure_schema
from connector.db.problems import database_problem
from connector.db.session import is_postgres, make_engine

log = logging.getLogger(__name__)


def check_web(settings: Settings, engine_of: Callable[[], Engine] | None = None) -> None:
    """UserError (one line) without the client secret or on a database not migrated.

    `engine_of` is the process's own engine (a runtime's, which checks the schema when it is
    built); without it (gunicorn's master, which must not load prometheus-client) a
    throwaway engine is checked. A database that does not answer is no reason to stop:
    webhooks get 503 (HubSpot retries) and /readyz says why until it answers.
    """
    settings.require_client_secret()
    throwaway = make_engine(settings.database_url) if engine_of is None else None
    try:
        if throwaway is not None:
            ensure_schema(throwaway, settings.database_url, apply=not is_postgres(throwaway))
        else:
            assert engine_of is not None
            engine_of()
    except SQLAlchemyError as exc:
        problem = database_problem(exc, settings.database_url)
        log.warning("starting without the database: %s",
                    problem.line if problem else type(exc).__name__)
    finally:
        if throwaway is not None:
            throwaway.dispose()
