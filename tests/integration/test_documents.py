"""Documents between real station daemons over loopback: verified, resumable, never in a FLASH's way.

Each test runs ``hotline up`` processes (tests/support/stations.py) and checks through the control
socket what an operator would see: ``files``, ``file.get``, ``inbox``, ``status`` alerts.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.hashing import digest as hash_of
from hotline.crypto.hashing import hasher
from tests.support.stations import Cluster, RequestFailed, StationProc, pair, two_up, wait_for

MiB = 2**20


def random_file(path: Path, size: int, seed: int = 1) -> str:
    """Write ``size`` pseudo-random bytes; their BLAKE3 (a ``standard`` line's document hash)."""
    digest = hasher("BLAKE3")
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with path.open("wb") as f:
        left, n = size, 0
        while left:
            chunk = (block[n % 32 :] + block[: n % 32])[: min(left, MiB)]
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
            n += 1
    return digest.digest().hex()


def document(station: StationProc, message_id: str) -> dict[str, Any]:
    """The document as ``files`` shows it (an empty one before its entry arrives)."""
    found = [d for d in station.request("files")["documents"] if d["id"] == message_id]
    return found[0] if found else {"state": None, "stored": 0}


def wait_state(station: StationProc, message_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        doc = document(station, message_id)
        return doc if doc["state"] == state else None

    return wait_for(reached, timeout, f"document {message_id} {state} at {station.name}")


def test_a_document_arrives_verified_and_is_written_out_once(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    source = tmp_path / "report ..\\..\\2026.pdf"  # backslashes: a Windows-style path in the name
    sha = random_file(source, 5 * MiB + 123)
    sent = a.request("send.file", peer=b.name, path=str(source), precedence="priority")
    assert sent["kind"] == "doc" and sent["document"]["size"] == 5 * MiB + 123
    got = wait_state(b, sent["id"], "complete")
    assert got["digest"] == sha and got["direction"] == "in" and got["stored"] == got["size"]
    assert got["name"] == "2026.pdf"  # a label only: no directory part survives
    wait_state(a, sent["id"], "complete")
    # it is in the inbox like a message and can be acknowledged
    inbox = b.inbox(a)
    entry = next(m for m in inbox if m["id"] == sent["id"])
    assert entry["kind"] == "doc" and "2026.pdf" in entry["text"]
    b.request("ack", id=sent["id"])
    # written out where the operator says, never over an existing file
    out = tmp_path / "received.pdf"
    written = b.request("file.get", id=sent["id"], out=str(out))
    assert written["digest"] == sha and hash_of("BLAKE3", out.read_bytes()).hex() == sha
    with pytest.raises(RequestFailed) as again:
        b.request("file.get", id=sent["id"], out=str(out))
    assert again.value.code == "bad-request"
    # at rest the document is sealed: no run of its bytes is in the station directory
    needle = source.read_bytes()[MiB : MiB + 64]
    for path in b.home.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path
    assert not any(p.name.endswith(".pdf") for p in b.home.rglob("*"))


def test_an_empty_document_and_a_missing_file(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    sent = a.request("send.file", peer=b.name, path=str(empty))
    assert wait_state(b, sent["id"], "complete")["size"] == 0
    with pytest.raises(RequestFailed) as missing:
        a.request("send.file", peer=b.name, path=str(tmp_path / "nope.pdf"))
    assert missing.value.code == "bad-file" and "nope.pdf" in missing.value.message
    with pytest.raises(RequestFailed) as directory:
        a.request("send.file", peer=b.name, path=str(tmp_path))
    assert directory.value.code == "bad-file"


@pytest.mark.parametrize("victim", ["sender", "receiver"])
def test_a_transfer_survives_kill_9_and_resends_nothing_already_stored(
    cluster: Cluster, tmp_path: Path, victim: str
) -> None:
    a, b = two_up(cluster)
    source = tmp_path / "big.bin"
    sha = random_file(source, 300 * MiB, seed=2)
    sent = a.request("send.file", peer=b.name, path=str(source))
    # let a good part arrive and become durable at the receiver, then kill a daemon mid-transfer
    wait_for(lambda: document(b, sent["id"])["stored"] >= 40 * MiB, 60, "40 MiB durable")
    killed = a if victim == "sender" else b
    killed.kill()
    held = document(b, sent["id"])["stored"]  # read offline now for the receiver, online for the sender
    assert 0 < held < 300 * MiB
    killed.start()
    got = wait_state(b, sent["id"], "complete", timeout=120)
    assert got["digest"] == sha
    out = tmp_path / "out.bin"
    b.request("file.get", id=sent["id"], out=str(out))
    assert hash_of("BLAKE3", out.read_bytes()).hex() == sha


def test_flash_overtakes_a_transfer(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    source = tmp_path / "big.bin"
    random_file(source, 400 * MiB, seed=3)
    sent = a.request("send.file", peer=b.name, path=str(source))
    wait_for(lambda: document(b, sent["id"])["stored"] > 0, 30, "the transfer under way")
    took = []
    for n in range(5):
        started = time.monotonic()
        message = a.request(
            "send", peer=b.name, text=f"FLASH {n} during the transfer", precedence="flash", wait=30
        )
        took.append(time.monotonic() - started)
        assert message["state"] == "delivered"
    assert document(b, sent["id"])["state"] == "receiving", "the FLASHes went while the transfer ran"
    print(f"FLASH send-to-receipt during a 400 MiB transfer: {[round(t * 1000) for t in took]} ms")
    # generous: the point is that they do not wait for the document (which takes seconds)
    assert max(took) < 2.0
    wait_state(b, sent["id"], "complete", timeout=120)


def test_a_full_disk_pauses_the_document_and_space_resumes_it(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo", documents_max_bytes=20 * MiB)
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    source = tmp_path / "big.bin"
    sha = random_file(source, 50 * MiB, seed=4)
    sent = a.request("send.file", peer=b.name, path=str(source))
    wait_for(lambda: any(x["kind"] == "document-paused" for x in b.line(a)["alerts"]), 60, "a pause alert")
    assert document(a, sent["id"])["state"] == "paused"
    held = document(b, sent["id"])["stored"]
    assert held <= 20 * MiB
    # space comes back (here: the operator raises the cap and restarts)
    b.stop()
    b.configure(documents_max_bytes=0)
    b.start()
    got = wait_state(b, sent["id"], "complete", timeout=120)
    assert got["digest"] == sha


def test_a_document_that_does_not_match_its_hash_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """The sender's file changes under it after it was hashed (same size, same mtime): the bytes that
    arrive no longer match the hash in the signed-off description, and the receiver refuses them."""
    a, b = two_up(cluster)
    a.stop()  # queue while the daemon is down, so nothing is sent before we swap the bytes
    source = tmp_path / "doc.bin"
    random_file(source, 3 * MiB, seed=5)
    sent = a.request("send.file", peer=b.name, path=str(source))
    stat = source.stat()
    with source.open("r+b") as f:
        f.seek(MiB)
        f.write(b"\xff" * 100)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    a.start()
    got = wait_state(b, sent["id"], "failed", timeout=60)
    assert "BLAKE3" in (got["detail"] or "")
    assert any(x["kind"] == "document-failed" for x in b.line(a)["alerts"])
    wait_state(a, sent["id"], "failed", timeout=30)
    with pytest.raises(RequestFailed) as refused:
        b.request("file.get", id=sent["id"], out=str(tmp_path / "never.bin"))
    assert refused.value.code == "not-complete"
    assert not (tmp_path / "never.bin").exists()


#: Run in a lying sender's daemon (through ``sitecustomize``): it announces its documents honestly and
#: then streams bytes that do not fit the announced size, the way the test names.
LIAR = """
import os
from hotline.proto import linemsg
from hotline.proto.document import CHUNK
from hotline.station.documents import outgoing

async def _lying_stream(self, line, session, out):
    row, channel = out.row, session.channel
    with open(row.source, "rb") as source:
        data = source.read()
    for offset in range(out.sender.want or 0, row.size, CHUNK):
        piece = data[offset : offset + CHUNK]
        if os.environ["HOTLINE_LIE"] == "longer" and offset + CHUNK >= row.size:
            piece = piece.ljust(CHUNK, b"\\0")  # the last chunk runs past the announced size
        if os.environ["HOTLINE_LIE"] == "short" and offset == CHUNK:
            piece = piece[:100]  # a short chunk in the middle
        channel.send_nowait(linemsg.encode(linemsg.DocData(row.doc_id, offset, piece)))
        await channel.drain()
    out.sender.chunk_sent(0, row.size)  # all sent

outgoing.OutgoingDocuments._stream = _lying_stream
"""


@pytest.mark.parametrize(
    ("lie", "wording"),
    [("longer", "more bytes than"), ("short", "short chunk")],
)
def test_a_sender_that_lies_about_the_size_gets_a_failed_document(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lie: str, wording: str
) -> None:
    """A sender whose bytes do not fit the size it announced (more than it said, or a short chunk
    before the end): the receiver fails the document with an alert naming the peer, keeps no file,
    tells the sender, and the line carries on."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    liar = tmp_path / "liar"
    liar.mkdir()
    (liar / "sitecustomize.py").write_text(LIAR)
    with monkeypatch.context() as patched:
        patched.setenv("PYTHONPATH", os.pathsep.join([str(liar), os.environ.get("PYTHONPATH", "")]))
        patched.setenv("HOTLINE_LIE", lie)
        a.start()
    b.start()
    a.wait_line(b)
    source = tmp_path / "doc.bin"
    random_file(source, MiB + 100)
    sent = a.request("send.file", peer=b.name, path=str(source))
    got = wait_state(b, sent["id"], "failed", timeout=60)
    assert wording in (got["detail"] or "") and "alpha" in got["detail"], got
    alerts = [x for x in b.line(a)["alerts"] if x["kind"] == "document-failed"]
    assert alerts and wording in alerts[0]["detail"], b.line(a)["alerts"]
    wait_state(a, sent["id"], "failed", timeout=30)
    assert not any((b.home / "documents").glob("*.in")), "a failed document left its bytes behind"
    with pytest.raises(RequestFailed) as refused:
        b.request("file.get", id=sent["id"], out=str(tmp_path / "never.bin"))
    assert refused.value.code == "not-complete"
    message = a.send(b, "still here")
    assert a.request("wait", id=message["id"], timeout=10)["state"] == "delivered"


#: Run in a daemon (through ``sitecustomize``): its documents follow the profile named by
#: HOTLINE_DOC_PROFILE (the station passes a line's profile the same way, as ``profile_of``), or,
#: with HOTLINE_DOC_HASH=SHA256, it hashes as a station from before the profiles did.
PROFILED = """
import os
from hotline.proto import document

if os.environ.get("HOTLINE_DOC_HASH"):
    document.PROFILE_HASH["standard"] = os.environ["HOTLINE_DOC_HASH"]
"""


@pytest.mark.parametrize(
    ("sender_env", "receiver_env", "hash_name", "label"),
    [
        ({"HOTLINE_DOC_HASH": "SHA256"}, {}, "SHA256", "SHA-256"),
        ({}, {}, "BLAKE3", "BLAKE3"),
    ],
    ids=["sha256-from-before-the-profiles", "blake3-standard"],
)
def test_a_document_with_each_hash_arrives_verified(
    cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sender_env: dict[str, str],
    receiver_env: dict[str, str],
    hash_name: str,
    label: str,
) -> None:
    """Each hash a DOC entry may name, between real daemons: a standard receiver takes a SHA-256
    entry (queued by a station from before the profiles) and a BLAKE3 one. (A cnsa2 line's
    SHA-384 documents, sealed at rest with AES-256-GCM: tests/integration/test_cnsa2_lines.py.)"""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PROFILED)
    for station, env in ((a, sender_env), (b, receiver_env)):
        with monkeypatch.context() as patched:
            patched.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
            for key, value in env.items():
                patched.setenv(key, value)
            station.start()
    a.wait_line(b)
    source = tmp_path / "doc.bin"
    random_file(source, 2 * MiB + 7, seed=11)
    data = source.read_bytes()
    want = hash_of(hash_name, data).hex()  # type: ignore[arg-type]
    sent = a.request("send.file", peer=b.name, path=str(source))
    assert sent["document"]["hash"] == label and sent["document"]["digest"] == want
    got = wait_state(b, sent["id"], "complete")
    assert got["hash"] == label and got["digest"] == want
    assert ("sha256" in got) == (hash_name == "SHA256")
    assert label in next(m for m in b.inbox(a) if m["id"] == sent["id"])["text"]
    out = tmp_path / "out.bin"
    written = b.request("file.get", id=sent["id"], out=str(out))
    assert written["digest"] == want and out.read_bytes() == data
