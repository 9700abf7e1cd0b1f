"""Errors of the control-socket client.

A :class:`ControlError` carries the daemon's own ``code`` and ``message`` (docs/control.md, "Error
codes") unchanged, so the CLI and the console word them the same way. The client adds two codes of its
own for failures the daemon cannot report: ``connection-lost`` (the socket closed under a request) and
``bad-response`` (a line that is not a control answer). This module knows nothing about terminals or exit
codes; only ``hotline.cli`` turns these into wording.
"""

from __future__ import annotations

__all__ = ["ControlError", "NotRunning"]


class ControlError(Exception):
    """A control request failed; ``code`` is machine-readable, ``message`` is for the operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        #: The error code, e.g. ``"no-such-line"`` (docs/control.md, "Error codes").
        self.code = code
        #: One sentence for a human, as the daemon wrote it.
        self.message = message


class NotRunning(ControlError):
    """No daemon answers on the control socket: the socket file is missing or refuses connections."""

    def __init__(self, message: str = "the station is not running") -> None:
        super().__init__("not-running", message)
