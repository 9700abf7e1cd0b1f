"""Files the operator names on the command line: cards and sealed line keys, read and written.

Failures here are the operator's to fix (a typo in a path, a directory without write permission), so
they become one-line :class:`Failure` messages naming the file, not exceptions for the station.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from hotline.cli.errors import Failure

__all__ = ["PrivateFile", "read_bytes", "read_text"]


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def read_bytes(path: str, what: str) -> bytes:
    """The contents of ``path`` (``-`` is stdin); ``what`` names it in errors, e.g. ``"card file"``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise Failure(f"cannot read the {what} {path}: {_why(exc)}") from exc


def read_text(path: str, what: str) -> str:
    """Like :func:`read_bytes`, decoded as UTF-8."""
    try:
        return read_bytes(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(f"the {what} {path} is not text") from None


class PrivateFile:
    """An output file readable only by its owner (mode 0600), opened before the work that fills it.

    Opening first means a bad path fails before the station does anything it cannot undo (``line.grant``
    makes a new line key). Nothing is truncated until :meth:`write`; :meth:`discard` removes the file if
    we created it. Not thread-safe; use once.
    """

    def __init__(self, path: Path) -> None:
        """Open (creating if needed) ``path`` for writing, without truncating it yet."""
        self.path = path
        existed = path.exists()
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise Failure(f"cannot write {path}: {_why(exc)}") from exc
        self._created = not existed

    def write(self, data: bytes) -> None:
        """Replace the file's contents with ``data``, set mode 0600 and close it."""
        try:
            # an existing file keeps its old mode through os.open; a line key must not stay readable
            os.fchmod(self._fd, 0o600)
            os.ftruncate(self._fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.discard()
            raise Failure(f"cannot write {self.path}: {_why(exc)}") from exc
        os.close(self._fd)
        self._fd = -1

    def discard(self) -> None:
        """Close without writing; remove the file if it did not exist before."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self._created:
                with contextlib.suppress(OSError):
                    self.path.unlink()
