"""JSON for money: Decimals go on the wire as numbers with their exact digits, never floats.

The standard `json` module writes a Decimal only by way of float (or not at all), and reads
`12.30` as a float. Here a Decimal is written as the number literal of its own digits
(`Decimal("0.10")` -> `0.10`) and every number with a fraction or an exponent is read back as a
Decimal, so an amount crosses the wire and comes back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    """Compact JSON text; a Decimal is written with its exact digits, a float is refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite amount")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("a float is not money: pass a Decimal")
    if value is None or isinstance(value, (bool, int, str)):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(key))}:{dumps(item)}"
                              for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or an exponent become Decimals (integers stay int)."""
    return json.loads(text, parse_float=Decimal)


def amount(value: Any) -> Decimal | None:
    """A JSON number read by `loads` (Decimal or int) as a Decimal; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return None
