"""Typed access to one section of the mapping file, with the key path for error messages."""

from __future__ import annotations

from typing import Any


class OptionError(ValueError):
    """A bad value at `key` (a dotted path); the mapping loader adds the file name."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def _number(value: object) -> float | None:
    # YAML reads `yes` and `true` as booleans, which are ints in Python: never a weight
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class Options:
    """One mapping of the YAML file; every read names its key path, and leftovers are typos."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, dict):
            raise OptionError(path, f"must be a mapping of keys to values, not {_kind(raw)}")
        self.raw: dict[str, Any] = raw
        self.path = path
        self._used: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted path of a key in this section."""
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        """Whether the key is present (and marks it as understood)."""
        self._used.add(name)
        return name in self.raw

    def get(self, name: str, default: Any = None) -> Any:
        """The raw value of a key, or `default`."""
        self._used.add(name)
        return self.raw.get(name, default)

    def text(self, name: str, default: str | None = None) -> str:
        """A non-empty string; missing -> `default` or an error."""
        value = self.get(name)
        if value is None:
            if default is None:
                raise OptionError(self.key(name), "missing")
            return default
        if not isinstance(value, str) or not value.strip():
            raise OptionError(self.key(name), f"must be a non-empty text, not {_kind(value)}")
        return value.strip()

    def number(
        self, name: str, default: float | None = None, *, low: float | None = None,
        high: float | None = None, above: float | None = None,
    ) -> float:
        """A number within bounds; missing -> `default` or an error."""
        value = self.get(name)
        if value is None:
            if default is None:
                raise OptionError(self.key(name), "missing")
            return default
        return check_number(value, self.key(name), low=low, high=high, above=above)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        """One of `choices`."""
        value = self.text(name, default)
        if value not in choices:
            raise OptionError(self.key(name), f"{value!r} is not one of {', '.join(choices)}")
        return value

    def section(self, name: str) -> Options:
        """A nested mapping."""
        return Options(self.get(name), self.key(name))

    def finish(self) -> None:
        """Reject keys nobody read: a typo would otherwise be silently ignored."""
        unknown = sorted(str(k) for k in self.raw if k not in self._used)
        if unknown:
            raise OptionError(self.key(unknown[0]), "unknown key")


def check_number(
    value: object, key: str, *, low: float | None = None, high: float | None = None,
    above: float | None = None,
) -> float:
    """`value` as a float within bounds, or an OptionError at `key`."""
    number = _number(value)
    if number is None:
        raise OptionError(key, f"must be a number, not {_kind(value)}")
    if low is not None and number < low:
        raise OptionError(key, f"must be at least {low:g}, not {number:g}")
    if high is not None and number > high:
        raise OptionError(key, f"must be at most {high:g}, not {number:g}")
    if above is not None and number <= above:
        raise OptionError(key, f"must be above {above:g}, not {number:g}")
    return number


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, str):
        return repr(value[:40])
    names: dict[type, str] = {bool: "a yes/no", list: "a list", dict: "a mapping"}
    return names.get(type(value), repr(value)[:40])

