"""The anti-replay guard in the store (issue 13, F8): one ``meta`` row per peer, never lowered."""

from __future__ import annotations

from pathlib import Path

from hotline.station.handshakes import guard_meta_key, load_guard, store_guard
from hotline.store.db import Store
from tests.unit.store.helpers import KEY

ALPHA, BRAVO = bytes(range(32)), bytes(range(1, 33))


def test_the_guard_survives_closing_and_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = Store.open(path, KEY)
    with store.transaction():
        store_guard(store, ALPHA, 1_700_000_000 * 10**9)
    store.close()
    reopened = Store.open(path, KEY)
    try:
        assert load_guard(reopened, [ALPHA, BRAVO]) == {ALPHA: 1_700_000_000 * 10**9}
    finally:
        reopened.close()


def test_the_stored_guard_never_goes_down(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store.sqlite", KEY)
    try:
        with store.transaction():
            store_guard(store, ALPHA, 20)
            store_guard(store, ALPHA, 10)  # a late write of an older value changes nothing
            store_guard(store, BRAVO, 5)
        assert load_guard(store, [ALPHA, BRAVO]) == {ALPHA: 20, BRAVO: 5}
        assert store.meta.get(guard_meta_key(ALPHA)) == (20).to_bytes(8, "big")
    finally:
        store.close()
