"""Conformance vectors: every line message (docs/protocol.md §10) and the transcript hash chain (§10.1).

One example of each tag 0 to 11, encoded from fixed field values, and the chain's first heads under
both line profiles. ``test_linemsg.py`` decodes each with our decoder, encodes it again byte for
byte, and recomputes the chains.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hotline.proto import linemsg
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.linemsg import (
    CallAnswer,
    CallMedia,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    DocData,
    DocProgress,
    Entry,
    Hello,
    HoldReason,
    Kind,
    Precedence,
    Receipt,
    Signal,
    TestProbe,
    Withhold,
)
from hotline.proto.suites import CNSA2, STANDARD
from tests.conformance.vectorfile import fixed, fixed_note

FILE = "linemsg.json"

_INPUTS = {
    "head": ("linemsg/head", 32),
    "entry id": ("linemsg/entry id", 10),
    "ref id": ("linemsg/ref id", 10),
    "call id": ("linemsg/call id", 16),
    "commitment": ("linemsg/commitment", 32),
    "kem public": ("linemsg/kem public", 1184),
    "dh public": ("linemsg/dh public", 32),
    "kem ciphertext": ("linemsg/kem ciphertext", 1088),
    "media packet": ("linemsg/media packet", 431),
    "doc id": ("linemsg/doc id", 16),
    "doc data": ("linemsg/doc data", 100),
    "sender key digest": ("linemsg/sender key digest", 32),
    "recipient key digest": ("linemsg/recipient key digest", 32),
}


def _v(name: str) -> bytes:
    lab, size = _INPUTS[name]
    return fixed(lab, size)


def examples() -> list[tuple[str, linemsg.LineMessage]]:
    """One line message of every tag, from the fixed inputs."""
    return [
        ("Hello", Hello(7, _v("head"), 12)),
        (
            "Entry (TEXT)",
            Entry(
                3,
                _v("entry id"),
                Kind.TEXT,
                Precedence.ROUTINE,
                1_800_000_000_123,
                b"",
                b"Hello.",
                _v("head"),
            ),
        ),
        (
            "Entry (ACK)",
            Entry(
                4,
                _v("entry id"),
                Kind.ACK,
                Precedence.IMMEDIATE,
                1_800_000_000_456,
                _v("ref id"),
                b"",
                _v("head"),
            ),
        ),
        (
            "Entry (TEST)",
            Entry(
                5,
                _v("entry id"),
                Kind.TEST,
                Precedence.FLASH,
                1_800_000_000_789,
                b"",
                linemsg.encode(TestProbe(7, _v("head"))),
                _v("head"),
            ),
        ),
        ("Receipt", Receipt(300, _v("head"))),
        ("CallOffer", CallOffer(_v("call id"), 7, "opus/48000/1/20", _v("commitment"), _v("kem public"))),
        ("CallAnswer", CallAnswer(_v("call id"))),
        ("CallSignal", CallSignal(_v("call id"), Signal.HANGUP)),
        ("CallMedia", CallMedia(_v("media packet"))),
        ("DocData", DocData(_v("doc id"), 65536, memoryview(_v("doc data")))),
        ("DocProgress", DocProgress(_v("doc id"), 131072, 1)),
        ("CallRinging", CallRinging(_v("call id"), 9, _v("dh public"), _v("kem ciphertext"))),
        ("CallReveal", CallReveal(_v("call id"), _v("dh public"))),
        ("Withhold", Withhold(7, HoldReason.RATE, 60)),
    ]


def _chain(profile: str) -> dict[str, Any]:
    suite = STANDARD if profile == "standard" else CNSA2
    head = chain_start(_v("sender key digest"), _v("recipient key digest"), suite)
    out: dict[str, Any] = {"H0": head.hex(), "entries": []}
    for seq, body, ref in ((1, b"first entry", b""), (2, b"", _v("entry id"))):
        fields = {
            "seq": seq,
            "id": fixed(f"linemsg/chain id {seq}", 10).hex(),
            "kind": Kind.TEXT if seq == 1 else Kind.ACK,
            "precedence": Precedence.ROUTINE if seq == 1 else Precedence.IMMEDIATE,
            "created_ms": 1_800_000_000_000 + seq,
            "ref": ref.hex(),
            "body": body.hex(),
        }
        args = {k: bytes.fromhex(x) if isinstance(x, str) else int(x) for k, x in fields.items()}
        hashed = msgspec.msgpack.encode(
            (seq, args["id"], args["kind"], args["precedence"], args["created_ms"], args["ref"], args["body"])
        )
        head = chain_next(head, suite=suite, **args)  # type: ignore[arg-type]
        out["entries"].append(
            {"fields": fields, "hashed_fields_msgpack": hashed.hex(), f"H{seq}": head.hex()}
        )
    return out


def _refused() -> list[dict[str, str]]:
    """Messages our decoder refuses, each breaking one rule of §10."""
    head = _v("head")
    receipt = linemsg.encode(Receipt(5, head))
    entry = linemsg.encode(Entry(1, _v("entry id"), Kind.TEXT, Precedence.ROUTINE, 5, b"", b"x", head))
    bad = [
        ("a bin field sent as str", bytes.fromhex("930205d920") + head),
        ("a bin field sent as nil", bytes.fromhex("930205c0")),
        ("an absent ref sent as nil instead of an empty bin", entry.replace(b"\xc4\x00", b"\xc0", 1)),
        ("a map instead of an array", msgspec.msgpack.encode({"t": 2, "seq": 5, "head": head})),
        ("one field too many", bytes.fromhex("940205c420") + head + b"\x00"),
        ("one field missing", bytes.fromhex("9202c420") + head),
        ("an integer sent as float", bytes.fromhex("9302cb4014000000000000c420") + head),
        ("an integer sent as bool", bytes.fromhex("9302c3c420") + head),
        ("a negative sequence number", bytes.fromhex("9302ffc420") + head),
        ("a head of 31 bytes", bytes.fromhex("930205c41f") + head[:31]),
        ("bytes after the message", receipt + b"\x00"),
        ("an unknown tag", bytes.fromhex("930c05c420") + head),
        ("an entry with sequence number 0", entry.replace(b"\x99\x01\x01", b"\x99\x01\x00", 1)),
        (
            "an entry id of 9 bytes",
            entry.replace(b"\xc4\x0a" + _v("entry id"), b"\xc4\x09" + _v("entry id")[:9]),
        ),
        ("an unknown entry kind", linemsg.encode(Entry(1, _v("entry id"), 5, 3, 5, b"", b"", head))),
        ("an unknown precedence", linemsg.encode(Entry(1, _v("entry id"), 0, 4, 5, b"", b"", head))),
        ("a Withhold asking for more than 3600 s", linemsg.encode(Withhold(1, HoldReason.RATE, 3601))),
    ]
    return [{"breaks": why, "msgpack": data.hex()} for why, data in bad]


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/linemsg.json``."""
    return {
        "about": (
            "Every line message (§10), tag 0 to 11, as msgpack from fixed field values, and the "
            "transcript hash chain's first heads under both line profiles (§10.1)."
        ),
        "inputs": {
            name: {"label": fixed_note(lab), "hex": _v(name).hex()} for name, (lab, _) in _INPUTS.items()
        },
        "messages": [
            {"message": name, "tag": type(m).__struct_config__.tag, "msgpack": linemsg.encode(m).hex()}
            for name, m in examples()
        ],
        "refused": _refused(),
        "test_probe": linemsg.encode(TestProbe(7, _v("head"))).hex(),
        "chains": {profile: _chain(profile) for profile in ("standard", "cnsa2")},
    }
