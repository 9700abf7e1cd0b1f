"""Ids a malicious peer chooses, against real daemons: message ids, ACK references, document ids.

The peer ("mallory") is an authenticated, verified station whose daemon is changed through
``sitecustomize`` (:data:`FORGE`): it sends the ids the test writes into a directory, instead of
random ones. Issue 13: F4 (a document id reused on a hub), F11 (lookups across lines, files left by
``line remove``), B1 (a reused id wedged the line), B2 (our id in the peer's transcript), B3 (an ACK
naming a message that is not ours).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.hashing import digest as hash_of
from tests.support.stations import Cluster, RequestFailed, StationProc, pair, sitecustomize, wait_for

#: Loaded by a station daemon through ``sitecustomize``. With ``HOTLINE_DOC_ID`` (hex), its next
#: documents get that id. With ``HOTLINE_FORGE`` (a directory), the next message it queues takes the
#: id in the file ``next_id``, its next ACK the reference in ``ack_ref`` and its next text the body in
#: ``text_body`` (each file used once; a forged body is chained as stored, so the entry is numbered
#: by the sender, never as it is queued), and its own store stops refusing a repeated id, so it can
#: send one twice.
FORGE = """
import os
from pathlib import Path

from hotline.proto.document import DOC_ID_LEN
from hotline.station.documents import outgoing as documents
from hotline.station.requests import messages as requests
from hotline.store import db
from hotline.store.messages import MessageStore

_doc_id = os.environ.get("HOTLINE_DOC_ID")
if _doc_id:
    _random = documents.random_bytes
    documents.random_bytes = lambda n: bytes.fromhex(_doc_id) if n == DOC_ID_LEN else _random(n)

_forge = os.environ.get("HOTLINE_FORGE")
if _forge:
    def _take(name):
        path = Path(_forge) / name
        if not path.exists():
            return None
        value = bytes.fromhex(path.read_text())
        path.unlink()
        return value

    _new_id = requests.new_message_id
    requests.new_message_id = lambda: _take("next_id") or _new_id()

    from hotline.station.lines.delivery import Delivery

    _can_number_now = Delivery.can_number_now
    Delivery.can_number_now = lambda self: (
        not (Path(_forge) / "text_body").exists() and _can_number_now(self)
    )

    def _loosen(store):
        sql = store.execute_checked("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        if "UNIQUE (id, direction, line_id)," not in sql:
            return
        loose = sql.replace("CREATE TABLE messages", "CREATE TABLE loose")
        store.execute_checked(loose.replace("UNIQUE (id, direction, line_id),", ""))
        store.execute_checked("INSERT INTO loose SELECT * FROM messages")
        store.execute_checked("DROP TABLE messages")
        store.execute_checked("ALTER TABLE loose RENAME TO messages")
        store.execute_checked(
            "CREATE INDEX messages_queue ON messages (line_id, precedence, rowid)"
            " WHERE direction = 0 AND seq IS NULL"
        )

    _queue = MessageStore.queue

    def _forged_queue(self, line_id, **fields):
        _loosen(self)
        if fields["kind"] == 1:
            fields["ref"] = _take("ack_ref") or fields["ref"]
        if fields["kind"] == 0:
            fields["body"] = _take("text_body") or fields["body"]
        return _queue(self, line_id, **fields)

    MessageStore.queue = _forged_queue
"""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def raw_id(shown: str) -> bytes:
    return base64.b32decode(shown.upper())


def forged(station: StationProc, tmp_path: Path, **env: str) -> Path:
    """Start ``station``'s daemon with :data:`FORGE` loaded; the directory its forged ids come from."""
    forge = tmp_path / f"forge-{station.name}"
    forge.mkdir()
    site = sitecustomize(tmp_path / f"site-{station.name}", FORGE)
    station.start(env={**site, "HOTLINE_FORGE": str(forge), **env})
    return forge


def with_mallory(cluster: Cluster, tmp_path: Path) -> tuple[StationProc, StationProc, Path]:
    alpha, mallory = cluster.add("alpha"), cluster.add("mallory")
    pair(alpha, mallory)
    forge = forged(mallory, tmp_path)
    alpha.start()
    alpha.wait_line(mallory)
    mallory.wait_line(alpha)
    return alpha, mallory, forge


def protocol_alert(
    station: StationProc, peer: StationProc, naming: str, timeout: float = 15
) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        alerts = station.line(peer)["alerts"]
        return next((a for a in alerts if a["kind"] == "protocol" and naming in a["detail"]), None)

    return wait_for(found, timeout, f"a protocol alert at {station.name} naming {naming}")


def line_still_works(alpha: StationProc, mallory: StationProc) -> None:
    """Our FLASH gets through, the peer's next honest message arrives, and nothing was a disk error."""
    assert alpha.line(mallory)["state"] == "up"
    flash = alpha.send(mallory, "flash after the attack", "flash")
    assert alpha.request("wait", id=flash["id"], timeout=15)["state"] in ("delivered", "acked")
    honest = mallory.send(alpha, "an honest one after")
    assert mallory.request("wait", id=honest["id"], timeout=15)["state"] == "delivered"
    assert "an honest one after" in [m["text"] for m in alpha.inbox(mallory)]
    kinds = {a["kind"] for a in alpha.line(mallory)["alerts"]}
    assert "store-error" not in kinds and "internal" not in kinds, alpha.line(mallory)["alerts"]


def test_a_peer_reusing_its_own_id_is_a_protocol_error_and_the_line_goes_on(
    cluster: Cluster, tmp_path: Path
) -> None:
    """B1: the peer sends a second entry with the id of its first. It is refused with a `protocol`
    alert naming the id (not `store-error`, which closed every session for good), only the first
    message shows, and the line carries on both ways, also after a restart."""
    alpha, mallory, forge = with_mallory(cluster, tmp_path)
    first = mallory.send(alpha, "the first")
    mallory.request("wait", id=first["id"], timeout=15)
    (forge / "next_id").write_text(raw_id(first["id"]).hex())
    again = mallory.send(alpha, "the same id again")
    assert again["id"] == first["id"]
    protocol_alert(alpha, mallory, first["id"])
    # (mallory's own store holds the id twice on one line: its `wait` takes the first)
    assert mallory.request("wait", id=again["id"], peer=alpha.name, timeout=15)["state"] == "delivered"
    texts = [m["text"] for m in alpha.inbox(mallory)]
    assert "the first" in texts and "the same id again" not in texts
    line_still_works(alpha, mallory)
    alpha.stop()
    alpha.start()
    alpha.wait_line(mallory)
    line_still_works(alpha, mallory)


def test_a_peer_sending_our_id_is_refused_and_our_ack_stays_unambiguous(
    cluster: Cluster, tmp_path: Path
) -> None:
    """B2: the peer sends an entry with the id of a message we sent it. Refused with a `protocol`
    alert naming the id; our log holds one message with that id, and `ack` of that id finds no
    received message."""
    alpha, mallory, forge = with_mallory(cluster, tmp_path)
    ours = alpha.send(mallory, "ours")
    alpha.request("wait", id=ours["id"], timeout=15)
    (forge / "next_id").write_text(raw_id(ours["id"]).hex())
    theirs = mallory.send(alpha, "wearing our id")
    assert theirs["id"] == ours["id"]
    protocol_alert(alpha, mallory, ours["id"])
    logged = [e["message"] for e in alpha.log(mallory) if e["kind"] == "message"]
    assert [m["direction"] for m in logged if m["id"] == ours["id"]] == ["out"]
    with pytest.raises(RequestFailed) as refused:
        alpha.request("ack", id=ours["id"])
    assert refused.value.code == "no-such-message"
    assert "wearing our id" not in [m["text"] for m in alpha.inbox(mallory)]
    line_still_works(alpha, mallory)


def test_an_ack_naming_no_message_of_ours_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """B3: the peer acknowledges one of its own messages, then an id nobody sent. Neither counts as
    an acknowledgement: `protocol` alerts name the references and our messages stay unread."""
    alpha, mallory, forge = with_mallory(cluster, tmp_path)
    ours = [alpha.send(mallory, "please read"), alpha.send(mallory, "this too")]
    alpha.request("wait", id=ours[1]["id"], timeout=15)
    own = mallory.send(alpha, "mallory's own")
    mallory.request("wait", id=own["id"], timeout=15)
    (forge / "ack_ref").write_text(raw_id(own["id"]).hex())
    mallory.request("ack", id=ours[0]["id"])
    protocol_alert(alpha, mallory, own["id"])
    nobody = bytes(range(10))
    (forge / "ack_ref").write_text(nobody.hex())
    mallory.request("ack", id=ours[1]["id"])
    protocol_alert(alpha, mallory, base64.b32encode(nobody).decode().lower())
    line_still_works(alpha, mallory)
    states = {
        e["message"]["text"]: e["message"]["state"] for e in alpha.log(mallory) if e["kind"] == "message"
    }
    assert states["please read"] == states["this too"] == "delivered", states


def test_a_text_that_is_not_utf8_is_refused_and_the_line_goes_on(cluster: Cluster, tmp_path: Path) -> None:
    """G15: the peer sends a TEXT whose body is not UTF-8. It is refused as §10.2 rule 6 says: a
    `protocol` alert naming its id, receipted (so never sent again) but no message, nothing shown
    with replacement characters, and the next honest message is delivered."""
    alpha, mallory, forge = with_mallory(cluster, tmp_path)
    (forge / "text_body").write_text(b"caf\xc3 \xff\xfe not words".hex())
    bad = mallory.send(alpha, "its body is replaced on the way to the store")
    assert mallory.request("wait", id=bad["id"], timeout=15)["state"] == "delivered"
    alert = protocol_alert(alpha, mallory, bad["id"])
    assert "not UTF-8" in alert["detail"]
    shown = [m["text"] for m in alpha.inbox(mallory)]
    assert shown == [] and not any(m["message"]["id"] == bad["id"] for m in alpha.log(mallory)
                                    if m["kind"] == "message")  # fmt: skip
    line_still_works(alpha, mallory)
    assert not any("\ufffd" in m["text"] for m in alpha.inbox(mallory))


def _blobs(station: StationProc) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((station.home / "documents").glob("*"))}


def _random_file(path: Path, size: int, seed: bytes) -> str:
    data = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))[
        :size
    ]
    path.write_bytes(data)
    return hash_of("BLAKE3", data).hex()


def _complete(station: StationProc, message_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = [d for d in station.request("files")["documents"] if d["id"] == message_id]
        return found[0] if found and found[0]["state"] == "complete" else None

    return wait_for(done, 60, f"document {message_id} complete at {station.name}")


def test_a_document_id_reused_on_a_hub_reaches_nothing_of_the_other_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    """F4: on a hub, a malicious line announces a document with the document id of the victim
    line's document. It is refused (`protocol` alert naming the id); the victim's sealed file is
    byte for byte what it was and the document still writes out verified; the malicious line goes
    on. F11: removing the victim's line deletes its document's file."""
    doc_id = bytes(range(100, 116)).hex()
    hub, victim, mallory = cluster.add("hub"), cluster.add("victim"), cluster.add("mallory")
    pair(hub, victim)
    pair(hub, mallory)
    hub.start()
    forged(victim, tmp_path, HOTLINE_DOC_ID=doc_id)  # an honest sender with a known id
    forged(mallory, tmp_path, HOTLINE_DOC_ID=doc_id)
    hub.wait_line(victim)
    hub.wait_line(mallory)

    size = 3 * 65536 + 1000
    sha = _random_file(tmp_path / "victim.bin", size, b"victim")
    sent = victim.request("send.file", peer=hub.name, path=str(tmp_path / "victim.bin"))
    _complete(hub, sent["id"])
    before = _blobs(hub)
    assert len(before) == 1 and doc_id not in next(iter(before)), before

    _random_file(tmp_path / "attack.bin", size, b"attacker")
    attack = mallory.request("send.file", peer=hub.name, path=str(tmp_path / "attack.bin"))
    protocol_alert(hub, mallory, doc_id)
    assert mallory.request("wait", id=attack["id"], timeout=15)["state"] == "delivered"
    flash = hub.send(mallory, "flash after the attack", "flash")
    assert hub.request("wait", id=flash["id"], timeout=15)["state"] == "delivered"
    assert _blobs(hub) == before
    assert [d["id"] for d in hub.request("files")["documents"]] == [sent["id"]]
    out = tmp_path / "out.bin"
    assert hub.request("file.get", id=sent["id"], out=str(out))["digest"] == sha
    assert hash_of("BLAKE3", out.read_bytes()).hex() == sha

    hub.request("line.remove", peer=victim.name)
    assert _blobs(hub) == {}


def test_an_id_two_lines_hold_is_named_by_its_line(cluster: Cluster, tmp_path: Path) -> None:
    """F11: two peers of a hub send messages with the same id. `ack ID` does not pick one silently:
    it asks for the line, and with the line it acknowledges that line's message only."""
    hub, one, two = cluster.add("hub"), cluster.add("one"), cluster.add("two")
    pair(hub, one)
    pair(hub, two)
    hub.start()
    forges = [forged(one, tmp_path), forged(two, tmp_path)]
    hub.wait_line(one)
    hub.wait_line(two)
    same = bytes(range(30, 40))
    for forge in forges:
        (forge / "next_id").write_text(same.hex())
    sent = [one.send(hub, "from one"), two.send(hub, "from two")]
    assert sent[0]["id"] == sent[1]["id"]
    for station, message in zip((one, two), sent, strict=True):
        station.request("wait", id=message["id"], timeout=15)
    with pytest.raises(RequestFailed) as ambiguous:
        hub.request("ack", id=sent[0]["id"])
    assert ambiguous.value.code == "ambiguous" and "one" in str(ambiguous.value)
    acked = hub.request("ack", id=sent[0]["id"], peer=two.name)
    assert acked["peer"] == "two" and acked["text"] == "from two" and acked["state"] == "acked"
    assert [m["state"] for m in hub.inbox(one)] == ["received"]
    wait_for(
        lambda: two.request("wait", id=sent[1]["id"], timeout=15)["state"] == "acked", 15, "the ack at two"
    )
    assert one.request("wait", id=sent[0]["id"], timeout=15)["state"] == "delivered"
