"""Conformance vectors: one whole session under the ``cnsa2`` line profile (see ``sessionfile``)."""

from __future__ import annotations

from typing import Any

from tests.conformance import sessionfile

FILE = "session-cnsa2.json"


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/session-cnsa2.json``."""
    return sessionfile.build("cnsa2")
