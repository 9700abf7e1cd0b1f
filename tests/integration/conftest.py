"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stations import Cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """Stations in one scratch directory, every daemon killed after the test (a test module that
    needs another directory prefix defines its own)."""
    with Cluster() as c:
        yield c
