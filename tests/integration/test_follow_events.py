"""What a follower of the station hears, with two real stations: receipts, acknowledgements, documents
and unread counts arrive on the ``inbox`` follow stream (docs/control.md, "Follower events"), so an
operator's console needs no poll to mark them.

The follower is a plain socket on alpha's control socket that reads event lines; nothing here asks
alpha about a message's state while waiting for its events.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stations import StationProc, paired_and_up


class Follower:
    """``inbox`` with ``follow`` on a station's control socket, read line by line."""

    def __init__(self, station: StationProc, **args: Any) -> None:
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.settimeout(20)
        self._sock.connect(str(station.control))
        request = {"op": "inbox", "args": {"follow": True, **args}}
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        self._lines = self._sock.makefile("rb")
        #: Every event read so far, in order.
        self.events: list[dict[str, Any]] = []

    def next_matching(self, kind: str, want: Any = None, timeout: float = 20.0) -> dict[str, Any]:
        """The next event of ``kind`` (``{kind: …}``) for which ``want(body)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = json.loads(self._lines.readline())
            assert answer["ok"], answer
            event = answer["event"]
            self.events.append(event)
            body = event.get(kind)
            if isinstance(body, dict) and (want is None or want(body)):
                return body
        raise AssertionError(f"no {kind} event within {timeout} s; heard {self.events}")

    def close(self) -> None:
        self._lines.close()
        self._sock.close()


@pytest.fixture
def stations() -> Iterator[tuple[StationProc, StationProc]]:
    with paired_and_up() as stations:
        yield stations


def _unread(station: StationProc, peer: StationProc) -> tuple[int, int]:
    line = station.line(peer)
    return line["unread"], line["unread_flash"]


def test_follower_hears_receipts_and_acknowledgements_as_they_happen(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations
    follower = Follower(a)
    try:
        sent = a.send(b, "status report")
        delivered = follower.next_matching("delivered", lambda d: sent["id"] in d["ids"])
        assert delivered["peer"] == "bravo"
        assert isinstance(delivered["at"], float)
        # bravo holds it, and its operator acknowledges it
        [received] = [m for m in b.inbox(a) if m["id"] == sent["id"]]
        b.request("ack", id=received["id"])
        acked = follower.next_matching("acked", lambda d: d["id"] == sent["id"])
        assert acked == {"peer": "bravo", "id": sent["id"], "direction": "out", "at": acked["at"]}
        assert acked["at"] >= delivered["at"]

        # the other way: bravo's FLASH counts as unread on alpha until an operator here acks it
        assert _unread(a, b) == (0, 0)
        flash = b.send(a, "missiles sighted", precedence="flash")
        b.send(a, "routine traffic")
        follower.next_matching("message", lambda m: m["text"] == "routine traffic")
        assert _unread(a, b) == (2, 1)
        a.request("ack", id=flash["id"])
        ours = follower.next_matching("acked", lambda d: d["id"] == flash["id"])
        assert ours["direction"] == "in" and ours["peer"] == "bravo"
        assert _unread(a, b) == (1, 0)
    finally:
        follower.close()


def test_follower_hears_a_document_grow_a_few_times_a_second_then_verified(
    stations: tuple[StationProc, StationProc], tmp_path: Path
) -> None:
    a, b = stations
    path = tmp_path / "plans.bin"
    path.write_bytes(os.urandom(6 * 2**20))
    follower = Follower(a)
    try:
        started = time.monotonic()
        document = a.request("send.file", peer="bravo", path=str(path), precedence="routine", wait=False)
        doc_id = document["document"]["id"]
        done = follower.next_matching(
            "document", lambda d: d["id"] == doc_id and d["state"] == "complete", timeout=60
        )
        took = time.monotonic() - started
        assert done["stored"] == done["size"] == 6 * 2**20
        progress = [
            e["document"]["stored"]
            for e in follower.events
            if "document" in e and e["document"]["id"] == doc_id
        ]
        assert progress == sorted(progress)
        # rate-limited: not one event per chunk (a 6 MiB document is hundreds of chunks)
        assert len(progress) <= 4 * took + 3
        # and bravo holds all of it
        assert b.request("files", peer="alpha")["documents"][0]["state"] == "complete"
    finally:
        follower.close()
