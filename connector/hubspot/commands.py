"""Commands of this part (not built yet)."""

import click


@click.command()
def install() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")

