"""The one error type the station's requests raise: a stable code for scripts, a sentence for people."""

from __future__ import annotations


class StationError(Exception):
    """A request could not be done. ``code`` is one of docs/control.md's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


__all__ = ["StationError"]
