"""Commands of this part (not built yet)."""

import click


@click.command()
def sync() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def clock() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")

