"""Structured logs: JSON lines in production, readable lines on a terminal, secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from connector.config import Settings

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
EMAIL_MASK = "[email]"
SECRET_MASK = "[secret]"  # noqa: S105 - the mask, not a secret
# attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_CONTEXT = ("contact_id", "event_id")
_HANDLER_NAME = "connector"


class Redactor:
    """Replaces known secrets and anything shaped like an email address in text and values."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # short values would mask ordinary words; real tokens and secrets are long
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        """The text with secrets and emails masked."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, SECRET_MASK)
        return EMAIL.sub(EMAIL_MASK, value)

    def value(self, value: Any) -> Any:
        """A log extra with every string inside it masked (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.text(str(value))


class RedactingFilter(logging.Filter):
    """Masks secrets and emails in the message, its arguments and its extras before output."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep both
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.text(message)
        record.args = None
        for name in list(vars(record)):
            if name not in _STANDARD:
                setattr(record, name, self.redactor.value(getattr(record, name)))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        # the traceback text above replaces the raw exception, whose repr may hold an email
        record.exc_info = None
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, contact_id, event_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A readable line for a terminal: time, level, logger, message, then key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        ordered = [k for k in _CONTEXT if k in extras] + sorted(k for k in extras
                                                                if k not in _CONTEXT)
        if ordered:
            line += "  " + " ".join(f"{k}={extras[k]}" for k in ordered)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time, so swapped streams (tests) keep working."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def wants_json(settings: Settings, stream: TextIO | None = None) -> bool:
    """JSON when LOG_FORMAT=json, or when it is auto and stderr is not a terminal."""
    if settings.log_format != "auto":
        return settings.log_format == "json"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


def configure_logging(settings: Settings, level: int = logging.INFO) -> logging.Handler:
    """Install the connector's handler on the root logger (replacing an earlier one); return it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if wants_json(settings) else TextFormatter())
    handler.addFilter(RedactingFilter(Redactor([
        settings.hubspot_access_token, settings.hubspot_client_secret,
        settings.dashboard_token, settings.workflow_webhook_key,
    ])))
    root.addHandler(handler)
    root.setLevel(level)
    # the SDK's HTTP pool logs every connection at INFO; keep warnings only
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return handler
