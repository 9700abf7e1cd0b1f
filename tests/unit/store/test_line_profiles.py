"""Line profiles in the store: schema version 4, each line's profile, and its values sealed by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.crypto import aead as aead_module
from hotline.crypto.aead import AesGcmKey, CipherKey
from hotline.crypto.hashing import hkdf, hkdf_sha256
from hotline.proto.linemsg import Entry
from hotline.proto.suites import CNSA2, STANDARD
from hotline.store import sealing
from hotline.store.db import Store
from hotline.store.errors import StoreCorrupt, StoreError
from hotline.store.messages import MessageStore
from hotline.store.schema import IN, OUT, SCHEMA_VERSION
from hotline.store.sealing import NONCE_LEN, Sealer
from tests.unit.store.helpers import (
    KEY,
    add_line,
    line_fields,
    raw_connection,
    undo_document_hashes,
    undo_line_profiles,
)

LINE_KEY = bytes(range(100, 132))
#: What a cnsa2 line's values are sealed under: HKDF-SHA-384 of the store key, its own label.
CNSA2_KEY = hkdf("SHA384", KEY, salt=None, info=b"hotline/store-line-key/v1|cnsa2", length=32)


def _queue(store: Store, line_id: int, n: int, body: bytes) -> bytes:
    message_id = n.to_bytes(16, "big")
    store.messages.queue(
        line_id, id=message_id, kind=0, precedence=3, created_ms=n, ref=b"", body=body, now=1.0
    )
    return message_id


def _raw(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    raw = raw_connection(path)
    try:
        return [tuple(row) for row in raw.execute(sql, params).fetchall()]
    finally:
        raw.close()


def _cnsa2_line(store: Store, peer: str = "bravo") -> int:
    row = add_line(store, peer, profile="cnsa2")
    assert row.profile == "cnsa2"
    return row.id


# -- schema version 4 ----------------------------------------------------------------------------------


def test_a_version_3_store_opens_with_every_line_standard_and_its_values_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = Store.open(path, KEY)
    line = add_line(store)
    with store.transaction():
        store.lines.set_key(line.id, LINE_KEY, 7)
        _queue(store, line.id, 1, b"before profiles")
    store.close()
    # make it what a version 3 Hotline wrote
    raw = raw_connection(path)
    undo_line_profiles(raw)
    undo_document_hashes(raw)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (b"3",))
    raw.commit()
    raw.close()

    store = Store.open(path, KEY)
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode()
    (row,) = store.lines.all()
    assert row.profile == "standard" and store.lines.suite(row.id) == STANDARD
    assert store.lines.key(row.id) == LINE_KEY
    assert [m.body for m in store.messages.find(line_id=row.id)] == [b"before profiles"]
    store.close()


def test_a_line_keeps_the_profile_it_was_made_with(path: Path) -> None:
    store = Store.open(path, KEY)
    standard = add_line(store, "alpha")
    cnsa2 = _cnsa2_line(store)
    store.close()
    store = Store.open(path, KEY)
    assert [(r.peer, r.profile) for r in store.lines.all()] == [("alpha", "standard"), ("bravo", "cnsa2")]
    assert store.lines.suite(cnsa2) == CNSA2 and store.lines.suite(standard.id) == STANDARD
    by_peer = store.lines.by_peer("bravo")
    assert by_peer is not None and by_peer.profile == "cnsa2"
    store.close()


def test_an_unknown_profile_is_refused_on_add(store: Store) -> None:
    with pytest.raises(StoreError, match="'suiteb'"), store.transaction():
        store.lines.add(**line_fields("x", profile="suiteb"))
    assert store.lines.all() == []


def test_a_profile_written_by_a_newer_hotline_is_a_store_error_naming_it(path: Path) -> None:
    store = Store.open(path, KEY)
    add_line(store)
    store.close()
    raw = raw_connection(path)
    raw.execute("UPDATE lines SET profile = 'future'")
    raw.commit()
    raw.close()
    store = Store.open(path, KEY)
    with pytest.raises(StoreError, match=r"'future'.*newer Hotline"):
        store.lines.all()
    store.close()


# -- sealing by profile --------------------------------------------------------------------------------


def test_standard_values_are_sealed_exactly_as_before_profiles() -> None:
    """Byte compatibility: a standard value is ChaCha20-Poly1305 under the store key itself, and its
    subkeys are HKDF-SHA-256 with the same label as before."""
    sealer = Sealer(KEY)
    assert sealer.for_suite(STANDARD) is sealer
    nonce = b"\x07" * NONCE_LEN
    old = nonce + CipherKey(KEY).seal(nonce, b"ad", b"value")
    assert sealer.open(b"ad", old) == b"value"
    new = sealer.seal(b"ad", b"v")
    assert CipherKey(KEY).open(new[:NONCE_LEN], b"ad", new[NONCE_LEN:]) == b"v"
    assert sealer.derive(b"document|1|x") == hkdf_sha256(
        KEY, salt=None, info=b"hotline/store-subkey/v1|document|1|x", length=32
    )


def test_a_cnsa2_sealer_is_aes_256_gcm_under_an_hkdf_sha384_key() -> None:
    sealer = Sealer(KEY).for_suite(CNSA2)
    assert sealer.suite == CNSA2
    sealed = sealer.seal(b"ad", b"value")
    assert AesGcmKey(CNSA2_KEY).open(sealed[:NONCE_LEN], b"ad", sealed[NONCE_LEN:]) == b"value"
    with pytest.raises(StoreCorrupt):
        Sealer(KEY).open(b"ad", sealed)  # the standard key does not open it
    assert sealer.derive(b"label") == hkdf(
        "SHA384", CNSA2_KEY, salt=None, info=b"hotline/store-subkey/v1|label", length=32
    )
    assert Sealer(KEY).for_suite(CNSA2).derive(b"label") == sealer.derive(b"label")


def test_a_cnsa2_lines_values_are_aes_gcm_in_the_file(store: Store, path: Path) -> None:
    line_id = _cnsa2_line(store)
    with store.transaction():
        store.lines.set_key(line_id, LINE_KEY, 1)
        message_id = _queue(store, line_id, 1, b"top secret")
        call = store.calls.add(line_id, b"\x01" * 16, OUT, 1.0)
        store.calls.add_audio(call, OUT, 0, b"opus frames")
    gcm = AesGcmKey(CNSA2_KEY)
    ((sealed_key,),) = _raw(path, "SELECT line_key FROM lines WHERE id = ?", line_id)
    assert isinstance(sealed_key, bytes)
    ad = b"line-key" + line_id.to_bytes(8, "big")
    assert gcm.open(sealed_key[:NONCE_LEN], ad, sealed_key[NONCE_LEN:]) == LINE_KEY
    ((body,),) = _raw(path, "SELECT body FROM messages WHERE id = ?", message_id)
    assert isinstance(body, bytes)
    opened = gcm.open(
        body[:NONCE_LEN], b"padded|" + MessageStore._body_ad(line_id, OUT, message_id), body[NONCE_LEN:]
    )
    assert opened.startswith(b"top secret\x80")
    assert store.lines.key(line_id) == LINE_KEY
    assert list(store.calls.audio(call, OUT)) == [b"opus frames"]


def test_a_cnsa2_line_in_the_store_makes_no_chacha20_or_sha256_operation(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a cnsa2 line's values went through ChaCha20-Poly1305 or HKDF-SHA-256")

    # opened (its key check is station-wide, standard): from here on only the cnsa2 line is touched
    monkeypatch.setattr(aead_module.ChaCha20Poly1305, "encrypt", refuse)
    monkeypatch.setattr(aead_module.ChaCha20Poly1305, "decrypt", refuse)
    monkeypatch.setattr(aead_module.ChaCha20Poly1305, "encrypt_into", refuse, raising=False)
    monkeypatch.setattr(sealing, "hkdf_sha256", refuse)
    line_id = _cnsa2_line(store)
    with store.transaction():
        store.lines.set_key(line_id, LINE_KEY, 1)
        _queue(store, line_id, 1, b"one")
        entry = Entry(
            id=b"\x02" * 16, seq=1, kind=0, precedence=3, created_ms=2, ref=b"", body=b"x", chain=b"\x00" * 32
        )
        store.messages.add_refused(line_id, entry, "test", 1.0, keep_id=True)
        call = store.calls.add(line_id, b"\x01" * 16, IN, 1.0)
        store.calls.add_audio(call, IN, 0, b"frames")
    assert store.lines.key(line_id) == LINE_KEY
    assert [m.body for m in store.messages.find(line_id=line_id)] == [b"one"]
    assert list(store.calls.audio(call, IN)) == [b"frames"]
    assert Sealer(KEY).for_suite(CNSA2).derive(b"document") != b""


# -- changing a line's profile -------------------------------------------------------------------------


def test_changing_the_profile_reseals_the_lines_values_and_drops_its_key_and_verification(
    store: Store, path: Path
) -> None:
    line = add_line(store)
    refused = Entry(
        id=b"\x09" * 16, seq=1, kind=0, precedence=3, created_ms=2, ref=b"", body=b"bad", chain=b"\x00" * 32
    )
    with store.transaction():
        store.lines.set_key(line.id, LINE_KEY, 5)
        store.lines.set_verified(line.id, line.key_digest)
        message_id = _queue(store, line.id, 1, b"kept across the change")
        store.messages.add_refused(line.id, refused, "test", 1.0, keep_id=True)
        call = store.calls.add(line.id, b"\x01" * 16, OUT, 1.0)
        store.calls.add_audio(call, OUT, 0, b"audio")
        other = add_line_in(store, "charlie")
        _queue(store, other, 2, b"other line")
    with store.transaction():
        assert store.lines.set_profile(line.id, "cnsa2") is True
    row = store.lines.by_id(line.id)
    assert row is not None and row.profile == "cnsa2"
    assert not row.has_key and not row.verified and row.key_created_at == 5  # an older key stays refused
    assert store.lines.key(line.id) is None
    assert [m.body for m in store.messages.find(line_id=line.id)] == [b"kept across the change"]
    ((sealed_refused,),) = _raw(path, "SELECT body FROM messages WHERE id = ?", refused.id)
    assert isinstance(sealed_refused, bytes)  # sealed unpadded, as refused entries are: kept so
    refused_ad = MessageStore._body_ad(line.id, IN, refused.id)
    assert Sealer(KEY).for_suite(CNSA2).open(refused_ad, sealed_refused) == b"bad"
    assert list(store.calls.audio(call, OUT)) == [b"audio"]
    assert [m.body for m in store.messages.find(line_id=other)] == [b"other line"]
    ((body,),) = _raw(path, "SELECT body FROM messages WHERE id = ?", message_id)
    assert isinstance(body, bytes)
    ad = b"padded|" + MessageStore._body_ad(line.id, OUT, message_id)
    assert AesGcmKey(CNSA2_KEY).open(body[:NONCE_LEN], ad, body[NONCE_LEN:]).startswith(b"kept")
    with store.transaction():
        assert store.lines.set_profile(line.id, "cnsa2") is False  # the same profile: nothing changes
        assert store.lines.set_profile(line.id, "standard") is True
    assert [m.body for m in store.messages.find(line_id=line.id)] == [b"kept across the change"]


def test_a_profile_change_rolled_back_leaves_the_line_as_it_was(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        store.lines.set_key(line.id, LINE_KEY, 5)
        _queue(store, line.id, 1, b"body")
    with pytest.raises(RuntimeError), store.transaction():
        store.lines.set_profile(line.id, "cnsa2")
        raise RuntimeError("crash before commit")
    assert store.lines.suite(line.id) == STANDARD
    assert store.lines.key(line.id) == LINE_KEY
    assert [m.body for m in store.messages.find(line_id=line.id)] == [b"body"]


def add_line_in(store: Store, peer: str) -> int:
    """A standard line added inside the caller's transaction."""
    return store.lines.add(**line_fields(peer, key_digest=b"\xd2" * 32, static_public=b"\x5b" * 32)).id


def test_the_page_layer_is_the_one_docs_store_md_describes(store: Store, path: Path) -> None:
    """The pages are the same for every line: SQLCipher's AES-256-CBC with an HMAC-SHA512 per page
    (docs/store.md, README); a driver built otherwise would make those pages wrong."""
    raw = raw_connection(path)
    try:
        settings = {
            name: str(raw.execute(f"PRAGMA {name}").fetchone()[0])
            for name in ("cipher", "cipher_hmac_algorithm", "cipher_page_size", "cipher_use_hmac")
        }
    finally:
        raw.close()
    assert settings == {
        "cipher": "AES-256-CBC",
        "cipher_hmac_algorithm": "HMAC_SHA512",
        "cipher_page_size": "4096",
        "cipher_use_hmac": "1",
    }
