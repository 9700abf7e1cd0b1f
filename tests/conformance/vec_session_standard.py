"""Conformance vectors: one whole session under the ``standard`` line profile (see ``sessionfile``)."""

from __future__ import annotations

from typing import Any

from tests.conformance import sessionfile

FILE = "session-standard.json"


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/session-standard.json``."""
    return sessionfile.build("standard")
