"""How commands print lists: JSON for scripts, one line a row for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

# the one convention of every --json option (named in `connector --help` too)
JSON_HELP = "Print one JSON document instead of text: an object, or an array for a list."


def print_rows(rows: Sequence[dict[str, Any]], *, as_json: bool, empty: str,
               line: Callable[[dict[str, Any]], str]) -> None:
    """The rows as one JSON array, or `line(row)` each (`empty` when there are none)."""
    if as_json:
        print_json(list(rows))
    elif not rows:
        click.echo(empty)
    else:
        for row in rows:
            click.echo(line(row))


def print_json(document: Any) -> None:
    """One JSON document on stdout, indented: what every --json prints."""
    click.echo(json.dumps(document, indent=2))
