"""Fixtures for the store tests: a real SQLite file in ``tmp_path`` and a line to put messages on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.store.db import Store
from hotline.store.rows import LineRow
from tests.unit.store.helpers import KEY, add_line


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    s = Store.open(path, KEY)
    yield s
    s.close()


@pytest.fixture
def line(store: Store) -> LineRow:
    return add_line(store)
