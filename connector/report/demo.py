"""`connector demo`: the whole program on a bare machine (being written)."""

from __future__ import annotations

from connector.errors import UserError


def run_demo(*, serve: bool, contacts: int, directory: str | None) -> None:
    """Run the demo story end to end."""
    raise UserError("the demo is not built yet")
