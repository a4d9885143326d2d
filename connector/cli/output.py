"""How commands print lists: JSON for scripts, one line a row for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click


def print_rows(rows: Sequence[dict[str, Any]], *, as_json: bool, empty: str,
               line: Callable[[dict[str, Any]], str]) -> None:
    """The rows as an indented JSON list, or `line(row)` each (`empty` when there are none)."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2))
    elif not rows:
        click.echo(empty)
    else:
        for row in rows:
            click.echo(line(row))
