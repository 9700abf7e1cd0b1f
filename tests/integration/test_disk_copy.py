"""F1: a copy of a station directory, taken without the passphrase, gives back nothing of its traffic.

Two real stations exchange short guessable messages, a document and a recorded call, and log events
(sessions, alerts); then one daemon stops cleanly and the other is killed (so its write-ahead log is
left full), and every byte of every file in both station directories is searched, raw, for what an
attacker holding the copy wants: the texts, the peer's name, card key and endpoints, the document's
name, source path and SHA-256, message and document ids and every transcript chain head (each also
in hex and base64 forms). Before the fix the store was plain SQLite: all but the texts were there in
clear, and each ``chain`` value was an unkeyed hash of its body whose other inputs sat beside it, so
"yes" was found by hashing a dictionary. The test rebuilds that dictionary attack with the true inputs
(read with the key, so the attacker is given more than the disk could tell) and searches the copy for
every candidate head.

``station.toml`` is the operator's settings file and stays readable by design: it holds the
station's own name and listen address, and a ``[lines.<peer>]`` table where the operator wrote one
(bravo records alpha's calls); it is searched for everything except that peer name. The daemons'
logs (kept outside the station directories here) are searched for texts, document names and paths.
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.crypto.hashing import digest as hash_of
from hotline.proto.delivery import chain_next
from hotline.station.config import LineSettings
from hotline.station.home import unlock
from hotline.store.db import Store
from hotline.store.schema import IN, OUT
from hotline.store.sealing import derive_store_key
from hotline.voice.quality import speech_sample
from tests.support.stations import PASSPHRASE, CliProcess, Cluster, StationProc, pair, wait_for

#: Short, guessable texts: the dictionary attack's targets.
GUESSABLE = ["yes", "no", "ok", "confirmed", "negative", "attack at dawn"]
#: A text long and odd enough to be searched for as it is.
DISTINCT = "the convoy leaves pier 7 at 0415 under escort"
DOC_NAME = "merger-plan-zebra-7731.pdf"
DICTIONARY = [*GUESSABLE, "maybe", "no.", "Yes", "YES", "y", "n", "ack", "roger", "wilco", "abort"]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def _forms(value: bytes) -> list[bytes]:
    """``value`` as raw bytes and in the text forms a hash or id is usually written in."""
    return [
        value,
        value.hex().encode(),
        value.hex().upper().encode(),
        base64.b64encode(value).rstrip(b"="),
        base64.urlsafe_b64encode(value).rstrip(b"="),
        base64.b32encode(value).rstrip(b"=").lower(),
        base64.b32encode(value).rstrip(b"="),
    ]


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _known(home: Path, peer: StationProc) -> tuple[list[tuple[str, bytes]], int]:
    """What the station's store holds that a copy must not tell, read with its key; and how many
    transcript heads the dictionary attack recovers when given every input but the body (the old
    disk layout gave it all of them)."""
    _, identity = unlock(home, PASSPHRASE)
    store = Store.open(home / "store.sqlite", derive_store_key(identity.secret_parts))
    try:
        lines, messages, documents = (
            store.lines.all(),
            store.messages.find(limit=100_000),
            store.documents.find(),
        )
        calls = [
            (call.call_id, len(list(store.calls.audio(call.rowid, IN)))) for call in store.calls.recent()
        ]
    finally:
        store.close()
    known: list[tuple[str, bytes]] = [
        ("peer name", peer.name.encode()),
        ("peer endpoint", peer.endpoint.encode()),
    ]
    assert len(lines) == 1
    known.append(("peer key", lines[0].static_public))
    hits = 0
    heads = {OUT: lines[0].chain_out0, IN: lines[0].chain_in0}
    for row in sorted(messages, key=lambda m: (m.direction, m.seq or 0)):
        known.append(("message id", row.id))
        if row.chain is None or row.seq is None:
            continue
        known.append(("chain head", row.chain))
        fields = {"seq": row.seq, "id": row.id, "kind": row.kind, "precedence": row.precedence}
        fields |= {"created_ms": row.created_ms, "ref": row.ref}
        head = heads[row.direction]
        assert chain_next(head, body=row.body, **fields) == row.chain  # type: ignore[arg-type]
        for guess in DICTIONARY:
            candidate = chain_next(head, body=guess.encode(), **fields)  # type: ignore[arg-type]
            hits += candidate == row.chain
            known.append(("dictionary head", candidate))
        heads[row.direction] = row.chain
    for doc in documents:
        known += [("document id", doc.doc_id), ("document digest", doc.digest)]
    assert len(documents) == 1 and len(calls) == 1
    known.append(("call id", calls[0][0]))
    if peer.name == "quebec-ops":
        assert calls[0][1] > 0, "tango-hq recorded no call audio"
    return known, hits


def _exchange(cluster: Cluster, tmp_path: Path) -> tuple[StationProc, StationProc, Path]:
    a, b = cluster.add("quebec-ops"), cluster.add("tango-hq")
    for station in (a, b):  # the logs stay out of the directories that are copied
        station.log_path = cluster.root / f"{station.name}-daemon.log"
    heard, outbox = tmp_path / "heard", tmp_path / "outbox"
    heard.mkdir()
    outbox.mkdir()
    b.configure(lines={a.name: LineSettings(record_calls=True, auto_answer=True, answer_record=str(heard))})
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    sent_a = [a.send(b, text)["id"] for text in [*GUESSABLE, DISTINCT]]
    sent_b = [b.send(a, text)["id"] for text in GUESSABLE]
    source = outbox / DOC_NAME
    source.write_bytes(b"%PDF-1.7 board minutes: the merger closes friday\n" * 500)
    sent_a.append(a.request("send.file", peer=b.name, path=str(source))["id"])
    for station, ids in ((a, sent_a), (b, sent_b)):
        for message_id in ids:
            station.request("wait", id=message_id, timeout=30)
    wait_for(
        lambda: any(d["state"] == "complete" for d in b.request("files")["documents"]) or None,
        60,
        "the document stored at tango-hq",
    )
    CliProcess(a, "call", b.name, "--play", str(speech_sample()), "--seconds", "3").result()
    wait_for(lambda: b.request("calls")["calls"] or None, 20, "the call logged at tango-hq")
    return a, b, source


def test_a_copy_of_the_station_directory_reveals_nothing_but_sizes(cluster: Cluster, tmp_path: Path) -> None:
    """F1: every byte of both station directories, one left by a clean stop and one by a kill with its
    WAL in place, holds none of the traffic's texts, names, paths, hashes or ids."""
    a, b, source = _exchange(cluster, tmp_path)
    assert a.stop() == 0
    b.kill()  # bravo's write-ahead log stays behind, holding the latest pages
    copies = {}
    for station in (a, b):
        copies[station.name] = tmp_path / f"copy-{station.name}"
        shutil.copytree(station.home, copies[station.name], ignore=shutil.ignore_patterns("*.sock"))
    assert (copies[b.name] / "store.sqlite-wal").stat().st_size > 0, "the kill left no WAL to search"

    # what the test knows, read with the keys: ids, chain heads, the document's id and hash, card keys
    secrets_of: dict[str, list[tuple[str, bytes]]] = {}
    dictionary_hits = 0
    for station, peer in ((a, b), (b, a)):
        secrets_of[station.name], hits = _known(station.home, peer)
        dictionary_hits += hits
    assert dictionary_hits >= 2 * len(GUESSABLE), "the dictionary attack should work on the true inputs"
    assert ("document digest", hash_of("BLAKE3", source.read_bytes())) in secrets_of[a.name]

    texts = [t.encode() for t in [*GUESSABLE, DISTINCT] if len(t) >= 6]  # shorter ones: the hashes above
    cleartext = [("text", t) for t in texts] + [
        ("document name", DOC_NAME.encode()),
        ("document name", DOC_NAME.rsplit(".", 1)[0].encode()),
        ("source path", str(source).encode()),
        ("source directory", str(source.parent).encode()),
        ("document bytes", b"board minutes"),
        ("sql schema", b"CREATE TABLE"),
        ("sqlite header", b"SQLite format 3"),
    ]
    found = []
    for name, copy in copies.items():
        files = _files(copy)
        assert any(p.name == "store.sqlite" for p in files)
        for path, data in files.items():
            settings = path.name == "station.toml"
            for what, value in [*cleartext, *secrets_of[name]]:
                if settings and what == "peer name":
                    continue  # the operator wrote it there (see the module docstring)
                forms = _forms(value) if what not in ("text", "document name", "source path") else [value]
                for form in forms:
                    if len(form) >= 5 and form in data:
                        found.append(f"{what} {value[:24]!r} in {path.relative_to(copy.parent)}")
                        break
    assert not found, "the disk copy gives away:\n" + "\n".join(found)
    for copy in copies.values():  # and the store does not even open as SQLite without the key
        plain = sqlite3.connect(copy / "store.sqlite")
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            plain.execute("SELECT name FROM sqlite_master").fetchall()
        plain.close()

    # the logs: no text, document name, path or hash
    for station in (a, b):
        log = station.log_path.read_bytes()
        for what, value in [*cleartext[:5], *((w, v) for w, v in secrets_of[station.name] if "sha" in w)]:
            assert not any(form in log for form in _forms(value)), f"{what} in {station.name}'s log"
