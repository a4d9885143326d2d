"""`connector db upgrade`: apply the database migrations."""

from __future__ import annotations

import click

from connector.config import Settings, redact_url
from connector.db.migrate import upgrade


@click.group()
def db() -> None:
    """The connector's own database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Apply migrations to DATABASE_URL (run by the Procfile's release line)."""
    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    click.echo(f"database {redact_url(settings.database_url)} is at revision {revision}")
