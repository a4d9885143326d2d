"""Commands of this part (not built yet)."""

import click


@click.command()
def report() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")


@click.command()
def demo() -> None:
    """Not built yet."""
    raise click.ClickException("not built yet")

