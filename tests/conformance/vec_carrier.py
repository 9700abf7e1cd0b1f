"""Conformance vectors: carrier mode's cells (docs/protocol.md §14.1, §14.2), laid out and sealed.

Each scenario offers messages to lanes of a fresh carrier and polls its cells: a cell with nothing
to carry (padding only), a FLASH entry beside a keepalive, a document chunk cut across cells, a
call's media packet beside an entry. Every cell is given as its plaintext, its segments and as a
transport record sealed under each line profile's record cipher. ``test_carrier.py`` opens the
records, reads the cells with our reader and makes the same cells from the same offers.
"""

from __future__ import annotations

from typing import Any

from hotline.proto import linemsg
from hotline.proto.carrier import Carrier, Lane
from hotline.proto.linemsg import CallMedia, DocData, Entry, Kind, Precedence
from hotline.proto.messages import Data, Ping, encode_message
from hotline.proto.noise import CipherState
from hotline.proto.records import RecordType
from hotline.proto.suites import CNSA2, STANDARD
from tests.conformance.vectorfile import fixed, fixed_note

FILE = "carrier.json"
INTERVAL = 0.020

_INPUTS = {
    "record key standard": ("carrier/record key standard", 32),
    "record key cnsa2": ("carrier/record key cnsa2", 32),
    "entry id": ("carrier/entry id", 10),
    "head": ("carrier/head", 32),
    "doc id": ("carrier/doc id", 16),
    "doc data": ("carrier/doc data", 600),
    "media packet": ("carrier/media packet", 431),
}


def _v(name: str) -> bytes:
    lab, size = _INPUTS[name]
    return fixed(lab, size)


def _data(message: linemsg.LineMessage) -> bytes:
    return encode_message(Data(linemsg.encode(message)))


def scenarios() -> list[dict[str, Any]]:
    """Each: a name, a cell size, the messages offered (lane, msgpack) and the cells to poll."""
    flash = Entry(
        1,
        _v("entry id"),
        Kind.TEXT,
        Precedence.FLASH,
        1_800_000_000_000,
        b"",
        b"FLASH: report now.",
        _v("head"),
    )
    routine = Entry(
        2, _v("entry id"), Kind.TEXT, Precedence.ROUTINE, 1_800_000_000_001, b"", b"Routine.", _v("head")
    )
    return [
        {"name": "padding only", "cell_size": 256, "offers": [], "cells": 1},
        {
            "name": "a FLASH entry beside a keepalive",
            "cell_size": 256,
            "offers": [(Lane.FLASH, _data(flash)), (Lane.CONTROL, encode_message(Ping(3)))],
            "cells": 1,
        },
        {
            "name": "a document chunk across cells",
            "cell_size": 256,
            "offers": [(Lane.DOCUMENTS, _data(DocData(_v("doc id"), 0, memoryview(_v("doc data")))))],
            "cells": 3,
        },
        {
            "name": "call media beside an entry",
            "cell_size": 1024,
            "offers": [(Lane.MESSAGES, _data(routine)), (Lane.VOICE, _data(CallMedia(_v("media packet"))))],
            "cells": 1,
        },
    ]


def cells_of(scenario: dict[str, Any]) -> list[bytes]:
    """The cells a carrier makes from the scenario's offers."""
    carrier = Carrier(0.0, interval=INTERVAL, cell_size=scenario["cell_size"])
    for lane, frame in scenario["offers"]:
        carrier.offer(lane, frame)
    cells = carrier.poll(INTERVAL * (scenario["cells"] - 1))
    return [cell.data for cell in cells]


def segments(cell: bytes) -> list[dict[str, Any]]:
    """A cell's segments as they lie in it."""
    end = 3 + int.from_bytes(cell[1:3], "big")
    out, pos = [], 3
    while pos < end:
        length = int.from_bytes(cell[pos + 1 : pos + 3], "big")
        out.append({"lane": cell[pos], "length": length, "bytes": cell[pos + 3 : pos + 3 + length].hex()})
        pos += 3 + length
    return out


def seal(key: bytes, profile: str, cells: list[bytes]) -> list[str]:
    """The cells as consecutive transport records (phase 0, counter from 0) under ``key``."""
    suite = STANDARD if profile == "standard" else CNSA2
    cipher = CipherState(key, suite.aead)
    kind = RecordType.TRANSPORT_PHASE0
    out = []
    for cell in cells:
        body = cipher.encrypt_with_ad(bytes([kind]), cell)
        out.append(((len(body) + 1).to_bytes(2, "big") + bytes([kind]) + body).hex())
    return out


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/carrier.json``."""
    rows = []
    for scenario in scenarios():
        cells = cells_of(scenario)
        rows.append(
            {
                "name": scenario["name"],
                "cell_size": scenario["cell_size"],
                "offered": [
                    {"lane": int(lane), "message": frame.hex()} for lane, frame in scenario["offers"]
                ],
                "cells": [
                    {
                        "plaintext": cell.hex(),
                        "content_len": int.from_bytes(cell[1:3], "big"),
                        "segments": segments(cell),
                    }
                    for cell in cells
                ],
                "records": {
                    profile: seal(_v(f"record key {profile}"), profile, cells)
                    for profile in ("standard", "cnsa2")
                },
            }
        )
    return {
        "about": (
            "Carrier mode's cells (§14.1, §14.2): plaintext, segments and the transport record "
            "(§5.1, phase 0, nonce counter from 0 within each scenario) under each profile."
        ),
        "inputs": {
            name: {"label": fixed_note(lab), "hex": _v(name).hex()} for name, (lab, _) in _INPUTS.items()
        },
        "lanes": {lane.name: int(lane) for lane in Lane},
        "scenarios": rows,
    }
