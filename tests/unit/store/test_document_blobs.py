"""Received documents at rest (hotline.store.blobs, hotline.store.documents) and schema version 3.

F4 of issue 13: a document's file and key were derived from the document id the sender chose, and
chunk ``i`` was always sealed with nonce ``i``; a peer reusing an id, or resending a chunk with other
bytes, had two plaintexts sealed under one key and nonce.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto.aead import NONCE_LEN, CipherKey, noise_nonce
from hotline.proto.document import CHUNK
from hotline.proto.linemsg import Entry
from hotline.station.documents.blobfiles import remove_line_blobs, writable_blob
from hotline.store.blobs import LEGACY_SLOT, SLOT, Blob, sealed_size
from hotline.store.db import Store
from hotline.store.errors import StoreCorrupt, StoreError
from hotline.store.schema import IN, OUT, SCHEMA_VERSION
from tests.unit.store.helpers import KEY, add_line, raw_connection, undo_document_hashes, undo_line_profiles

DOC_ID = bytes(range(16))
#: What schema version 2 named two documents' files.
DONE_FILE = (b"\x0d" * 16).hex() + ".in"
HALF_FILE = (b"\x0e" * 16).hex() + ".in"


def nonce_at(path: Path, index: int) -> bytes:
    with path.open("rb") as f:
        f.seek(index * SLOT)
        return f.read(NONCE_LEN)


def add_doc(store: Store, line_id: int, doc_id: bytes = DOC_ID, *, direction: int = IN, n: int = 1) -> int:
    with store.transaction():
        doc = store.documents.add(
            line_id, direction, doc_id=doc_id, message_id=n.to_bytes(10, "big"), name="a.txt",
            size=3 * CHUNK, digest=b"\x00" * 32, hash="SHA256", now=1.0,
        )  # fmt: skip
        return doc.rowid


def test_a_rewritten_chunk_is_sealed_under_a_fresh_nonce(tmp_path: Path) -> None:
    """F4: a resumed transfer writes chunk 1 again with other bytes (a lying sender): the two
    ciphertexts never share a nonce, and the chunk reads back as the last bytes written."""
    path = tmp_path / "doc.in"
    blob = Blob(path, KEY, DOC_ID, create=True)
    blob.write(1, b"a" * CHUNK)
    first = nonce_at(path, 1)
    blob.write(1, b"b" * CHUNK)
    second = nonce_at(path, 1)
    assert first != second and first != noise_nonce(1)
    assert blob.read(1, CHUNK) == b"b" * CHUNK
    blob.close()


@settings(max_examples=25, deadline=None)
@given(
    writes=st.lists(st.tuples(st.integers(0, 3), st.binary(min_size=1, max_size=64)), min_size=2, max_size=30)
)
def test_no_two_writes_share_a_nonce(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[int, bytes]]
) -> None:
    """F4: whatever order and bytes chunks are (re)written in, every write has its own nonce, and
    each chunk reads back as its last write."""
    path = tmp_path_factory.mktemp("blob") / "doc.in"
    blob = Blob(path, KEY, DOC_ID, create=True)
    nonces: list[bytes] = []
    last: dict[int, bytes] = {}
    for index, data in writes:
        blob.write(index, data)
        nonces.append(nonce_at(path, index))
        last[index] = data
    assert len(set(nonces)) == len(nonces)
    for index, data in last.items():
        assert blob.read(index, len(data)) == data
    blob.close()


def test_a_blob_never_follows_a_link_and_is_made_exclusively(tmp_path: Path) -> None:
    """F4: a blob's file is made with O_CREAT|O_EXCL|O_NOFOLLOW: a link planted at its name is
    refused and its target is left as it was."""
    target = tmp_path / "victim.in"
    target.write_bytes(b"victim bytes")
    link = tmp_path / "doc.in"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        Blob(link, KEY, DOC_ID, create=True)
    with pytest.raises(StoreError, match="symbolic link"):
        Blob(link, KEY, DOC_ID)
    assert target.read_bytes() == b"victim bytes"
    created = tmp_path / "new.in"
    Blob(created, KEY, DOC_ID, create=True).close()
    assert created.stat().st_mode & 0o777 == 0o600


def test_reading_never_creates_and_a_moved_chunk_does_not_open(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Blob(tmp_path / "absent.in", KEY, DOC_ID)
    assert not (tmp_path / "absent.in").exists()
    path = tmp_path / "doc.in"
    blob = Blob(path, KEY, DOC_ID, create=True)
    blob.write(0, b"x" * CHUNK)
    blob.write(1, b"y" * 10)
    blob.close()
    assert path.stat().st_size == sealed_size(CHUNK + 10) == SLOT + NONCE_LEN + 10 + 16
    data = bytearray(path.read_bytes())
    data[SLOT : SLOT + NONCE_LEN] = data[:NONCE_LEN]  # chunk 0's nonce on chunk 1
    path.write_bytes(bytes(data))
    reader = Blob(path, KEY, DOC_ID)
    assert reader.read(0, CHUNK) == b"x" * CHUNK
    with pytest.raises(StoreCorrupt):
        reader.read(1, 10)
    reader.close()


def test_each_document_row_has_its_own_random_file_and_sealed_key(tmp_path: Path, store: Store) -> None:
    """F4: two lines' documents with the same document id get different files and keys, and the
    key is kept sealed in the row, never in the clear."""
    one, two = add_line(store, "one"), add_line(store, "two")
    first, second = add_doc(store, one.id), add_doc(store, two.id, n=2)
    with store.transaction():
        a, b = store.documents.new_blob(first), store.documents.new_blob(second)
    assert a.name != b.name and a.key != b.key and not a.legacy
    assert DOC_ID.hex() not in a.name and a.name.endswith(".in")
    assert store.documents.blob_of(first) == a and store.documents.blob_of(second) == b
    with store.transaction():
        again = store.documents.new_blob(first)
    assert again.name != a.name and again.key != a.key
    raw = raw_connection(store.path or "")
    keys = [bytes(r[0]) for r in raw.execute("SELECT blob_key FROM documents")]
    raw.close()
    assert all(again.key not in k and b.key not in k for k in keys)


def test_a_document_id_is_known_across_lines_and_directions(store: Store) -> None:
    one, two = add_line(store, "one"), add_line(store, "two")
    assert not store.documents.id_in_use(DOC_ID)
    add_doc(store, one.id, direction=OUT)
    assert store.documents.id_in_use(DOC_ID)
    assert not store.documents.id_in_use(b"\xff" * 16)
    assert store.documents.blob_names(two.id) == []


def test_a_refused_entry_keeps_its_place_but_is_no_message(store: Store) -> None:
    """B1/B2: a refused entry is kept at its sequence number under an id of ours when its id was
    the problem, and no lookup or listing returns it as a message."""
    line = add_line(store)
    ours = (7).to_bytes(10, "big")
    with store.transaction():
        store.messages.queue(
            line.id, id=ours, kind=0, precedence=3, created_ms=1, ref=b"", body=b"ours", now=1.0
        )
        assert store.messages.id_direction(line.id, ours) == OUT
        entry = Entry(1, ours, 0, 3, 5, b"", b"theirs", b"\x03" * 32)
        rowid = store.messages.add_refused(line.id, entry, "reused an id", 2.0, keep_id=False)
    assert store.messages.position(line.id, IN) == (1, b"\x03" * 32)
    assert store.messages.find(line_id=line.id, direction=IN) == []
    assert store.messages.with_id(ours, IN) == []
    assert [row.body for row in store.messages.with_id(ours, OUT)] == [b"ours"]
    assert store.messages.by_id(ours, IN) is None
    raw = raw_connection(store.path or "")
    kept = raw.execute("SELECT id, refused FROM messages WHERE rowid = ?", (rowid,)).fetchone()
    raw.close()
    assert bytes(kept[0]) != ours and kept[1] == "reused an id"


def test_removing_a_line_lists_its_files_to_delete(tmp_path: Path, store: Store) -> None:
    """F11: the files of a removed line's documents go with it; other lines' stay."""
    one, two = add_line(store, "one"), add_line(store, "two")
    mine, other = add_doc(store, one.id), add_doc(store, two.id, b"\x01" * 16, n=2)
    with store.transaction():
        a, b = store.documents.new_blob(mine), store.documents.new_blob(other)
    for ref in (a, b):
        (tmp_path / ref.name).write_bytes(b"sealed")
    names = store.documents.blob_names(one.id)
    with store.transaction():
        store.lines.remove(one.id)
    assert remove_line_blobs(tmp_path, names) == 1
    assert not (tmp_path / a.name).exists() and (tmp_path / b.name).exists()


# -- version 2 stores -------------------------------------------------------------------------------


def _make_v3(path: Path) -> None:
    """Turn a current store into what schema version 3 wrote: no hash or AEAD column, ``sha256``."""
    raw = raw_connection(path)
    undo_document_hashes(raw)
    undo_line_profiles(raw)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (b"3",))
    raw.commit()
    raw.close()


def _make_v2(path: Path) -> None:
    """Turn a current store into what schema version 2 wrote."""
    _make_v3(path)
    raw = raw_connection(path)
    raw.execute("DROP INDEX documents_blob")
    raw.execute("DROP INDEX documents_doc_id")
    for column in ("blob_name", "blob_key", "blob_legacy"):
        raw.execute(f"ALTER TABLE documents DROP COLUMN {column}")
    raw.execute("ALTER TABLE messages DROP COLUMN refused")
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (b"2",))
    raw.commit()
    raw.close()


def _write_legacy(path: Path, key: bytes, doc_id: bytes, chunks: list[bytes]) -> None:
    """A blob the way schema version 2 wrote it: nonce = chunk index, no nonce in the file."""
    cipher = CipherKey(key)
    with path.open("wb") as f:
        for index, data in enumerate(chunks):
            f.seek(index * LEGACY_SLOT)
            f.write(cipher.seal(noise_nonce(index), doc_id + index.to_bytes(8, "big"), data))


def test_a_version_2_store_keeps_its_documents_readable(tmp_path: Path) -> None:
    """F4 migration: a complete document of a version 2 store is still read from its old file with
    its old key; an unfinished one starts over in a new file of its own (its old file goes); a
    document id two lines shared (the attack, already made) fails on every row but the first."""
    path = tmp_path / "store.sqlite"
    docs = tmp_path / "documents"
    docs.mkdir()
    store = Store.open(path, KEY)
    one, two = add_line(store, "one"), add_line(store, "two")
    done = add_doc(store, one.id, b"\x0d" * 16)
    unfinished = add_doc(store, one.id, b"\x0e" * 16, n=2)
    shared_first = add_doc(store, one.id, b"\x0f" * 16, n=3)
    shared_again = add_doc(store, two.id, b"\x0f" * 16, n=4)
    outbound = add_doc(store, one.id, b"\x10" * 16, direction=OUT, n=5)
    with store.transaction():
        store.documents.update(done, stored=3 * CHUNK, state="complete", completed_at=2.0)
        store.documents.update(unfinished, stored=CHUNK, state="receiving")
    legacy_key = store.documents.blob_key(b"\x0d" * 16, IN)
    store.close()
    _make_v2(path)
    chunks = [b"p" * CHUNK, b"q" * CHUNK, b"r" * CHUNK]
    _write_legacy(docs / DONE_FILE, legacy_key, b"\x0d" * 16, chunks)
    (docs / HALF_FILE).write_bytes(b"half")

    store = Store.open(path, KEY)
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode()
    ref = store.documents.blob_of(done)
    assert ref is not None and ref.legacy and ref.name == DONE_FILE
    blob = Blob(docs / ref.name, ref.key, b"\x0d" * 16, legacy=True)
    assert [blob.read(i, CHUNK) for i in range(3)] == chunks
    blob.close()
    with pytest.raises(StoreError):
        Blob(docs / ref.name, ref.key, b"\x0d" * 16, legacy=True, create=True)

    row = store.documents.by_rowid(unfinished)
    assert row is not None
    with store.transaction():
        fresh, old = writable_blob(store, row=row)
    assert old == HALF_FILE and not fresh.legacy and fresh.name != old
    after = store.documents.by_rowid(unfinished)
    assert after is not None and after.stored == 0 and store.documents.blob_of(unfinished) == fresh

    first, again = store.documents.by_rowid(shared_first), store.documents.by_rowid(shared_again)
    assert first is not None and first.state == "receiving"
    assert again is not None and again.state == "failed" and "another line" in (again.detail or "")
    assert store.documents.blob_of(shared_again) is None and store.documents.blob_of(outbound) is None
    store.close()
    assert os.path.exists(docs / DONE_FILE)


def test_a_version_3_store_keeps_its_sha256_documents(tmp_path: Path) -> None:
    """Schema 4: a document row stored before the profiles keeps its digest, says SHA-256, and its
    file (sealed with ChaCha20-Poly1305) still opens; a new cnsa2 file is AES-256-GCM."""
    path = tmp_path / "store.sqlite"
    store = Store.open(path, KEY)
    line = add_line(store)
    rowid = add_doc(store, line.id)
    with store.transaction():
        ref = store.documents.new_blob(rowid)
    blob = Blob(tmp_path / ref.name, ref.key, DOC_ID, create=True)
    blob.write(0, b"old" * 10)
    blob.close()
    store.close()
    _make_v3(path)
    raw = raw_connection(path)
    raw.execute("UPDATE documents SET sha256 = ? WHERE rowid = ?", (b"\x5a" * 32, rowid))
    raw.commit()
    raw.close()

    store = Store.open(path, KEY)
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode()
    row = store.documents.by_rowid(rowid)
    assert row is not None and row.hash == "SHA256" and row.digest == b"\x5a" * 32
    again = store.documents.blob_of(rowid)
    assert again == ref and again.aead == "ChaChaPoly"
    reader = Blob(tmp_path / again.name, again.key, DOC_ID, cipher=again.aead)
    assert reader.read(0, 30) == b"old" * 10
    reader.close()
    with store.transaction():
        fresh = store.documents.new_blob(rowid, "AESGCM")
    assert store.documents.blob_of(rowid) == fresh and fresh.aead == "AESGCM"
    store.close()


def test_a_cnsa2_blob_is_aes_gcm_and_does_not_open_as_chacha(tmp_path: Path) -> None:
    """A document at rest on a cnsa2 line is sealed with AES-256-GCM: it reads back under that AEAD
    and fails under ChaCha20-Poly1305 with the same key."""
    path = tmp_path / "doc.in"
    blob = Blob(path, KEY, DOC_ID, create=True, cipher="AESGCM")
    blob.write(0, b"a" * CHUNK)
    blob.write(1, b"tail")
    blob.close()
    assert os.path.getsize(path) == sealed_size(CHUNK + 4)
    reader = Blob(path, KEY, DOC_ID, cipher="AESGCM")
    assert reader.read(0, CHUNK) == b"a" * CHUNK and reader.read(1, 4) == b"tail"
    reader.close()
    wrong = Blob(path, KEY, DOC_ID)
    with pytest.raises(StoreCorrupt):
        wrong.read(1, 4)
    wrong.close()
    with pytest.raises(StoreError):
        Blob(path, KEY, DOC_ID, legacy=True, cipher="AESGCM")
