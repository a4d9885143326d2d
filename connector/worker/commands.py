"""Commands of this part (not built yet)."""

import click


@click.command()
def worker() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def events() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")

