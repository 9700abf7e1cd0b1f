"""Structured logs on stderr: one line per event, ``time level logger message key=value…``."""

from __future__ import annotations

import logging
import sys
import time

# attributes every LogRecord has; anything else came in through ``extra=`` and is a field
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class FieldFormatter(logging.Formatter):
    """Formats a record with its ``extra`` fields as ``key=value`` pairs (values quoted when needed)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        fields = " ".join(
            f"{key}={_quote(value)}" for key, value in record.__dict__.items() if key not in _STANDARD
        )
        line = f"{stamp} {record.levelname.lower():7} {record.name} {record.getMessage()}"
        if fields:
            line += f" {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def setup_logging(level: int = logging.INFO) -> None:
    """Send the ``hotline`` loggers to stderr, structured."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldFormatter())
    root = logging.getLogger("hotline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


__all__ = ["FieldFormatter", "setup_logging"]
