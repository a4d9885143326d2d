"""Commands of this part (not built yet)."""

import click


@click.command()
def rewards() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")

