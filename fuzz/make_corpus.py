"""Write the seed corpus: a handful of small, valid inputs per fuzz target, in ``fuzz/corpus/<target>/``.

Run it again after a change to a wire format (``python -m fuzz.make_corpus``); it replaces every
seed file. The inputs are real protocol bytes built with the fixed test keys of
:mod:`fuzz.fixtures`: a real first handshake message, real cards and sealed line keys, real line
messages, a whole pairing exchange, valid station configs. Cards and sealed line keys carry
randomised signatures and HPKE encapsulations, so those files change on every run; everything else
is the same byte for byte.

Each file starts with whatever prefix its target reads first (mode, flags, cut sizes); see each
target's docstring.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import msgspec

from fuzz import fixtures
from fuzz.fuzz_pairing import SEALED, machine
from hotline.proto import linemsg
from hotline.proto.cards import armor_card, encode_card, issue_card
from hotline.proto.carrier import Carrier, Lane
from hotline.proto.document import DocMeta, DocState, encode_meta
from hotline.proto.linekeys import seal_line_key
from hotline.proto.messages import Close, Data, Ping, Pong, RekeyRequest, encode_message
from hotline.proto.pairing import LineKeyReceived, PeerCardReceived, Role
from hotline.proto.records import ContentKind, RecordType, frame, pad

CORPUS = Path(__file__).resolve().parent / "corpus"


def _framed(*messages: object) -> bytes:
    """The message stream of ``messages`` (docs/protocol.md §5.3): ``u32be(length) || msgpack``."""
    out = b""
    for message in messages:
        encoded = encode_message(message)  # type: ignore[arg-type]
        out += len(encoded).to_bytes(4, "big") + encoded
    return out


def records() -> dict[str, bytes]:
    init = frame(RecordType.HANDSHAKE_INIT, fixtures.genuine_initiation())
    stream = _framed(Data(b"hello"), Ping(7), Pong(7), RekeyRequest(), Close(0, "bye"))
    plaintext = pad(ContentKind.STREAM, stream)
    transport = frame(RecordType.TRANSPORT_PHASE0, plaintext) + frame(
        RecordType.TRANSPORT_PHASE1, pad(ContentKind.STREAM, b"")
    )
    return {
        "initiation": b"\x00\xff" + init,
        "transport-records": b"\x02\x06" + transport,
        "message-stream": b"\x02\x00" + stream,
        "padded-plaintext": b"\x02\x10" + plaintext,
        "small-records": b"\x04\x02" + frame(RecordType.HANDSHAKE_RESPONSE, b"abc") + b"\x00\x05\x03ab",
    }


def handshake() -> dict[str, bytes]:
    init = frame(RecordType.HANDSHAKE_INIT, fixtures.genuine_initiation())
    confirmation = frame(RecordType.TRANSPORT_PHASE0, bytes(64 + 16))
    return {
        "genuine": b"\x00\xff" + init,
        "genuine-bytewise": b"\x00\x00" + init,
        "genuine-then-forged-record": b"\x01\x40" + init + confirmation,
        "genuine-then-eof": b"\x04\xff" + init,
        "stranger": b"\x02\xff" + init,
        "half-then-deadline": b"\x08\xff" + init[: len(init) // 2],
    }


def wire() -> dict[str, bytes]:
    head, msg_id, call_id, doc_id = bytes(range(32)), b"M" * 10, b"C" * 16, b"D" * 16
    probe = linemsg.TestProbe(4, head)
    meta = DocMeta(doc_id, "report.pdf", 123_456, bytes(32))

    def entry(kind: linemsg.Kind, body: bytes, ref: bytes = b"") -> linemsg.Entry:
        return linemsg.Entry(5, msg_id, kind, linemsg.Precedence.ROUTINE, 1_700_000_000_000, ref, body, head)

    messages: dict[str, object] = {
        "hello": linemsg.Hello(3, head, 4),
        "entry-text": entry(linemsg.Kind.TEXT, b"Line is up."),
        "entry-ack": entry(linemsg.Kind.ACK, b"", ref=msg_id),
        "entry-test": entry(linemsg.Kind.TEST, linemsg.encode(probe)),
        "entry-doc": entry(linemsg.Kind.DOC, encode_meta(meta)),
        "receipt": linemsg.Receipt(5, head),
        "call-offer": linemsg.CallOffer(call_id, 9, "opus/48000/1/20"),
        "call-answer": linemsg.CallAnswer(call_id, 10),
        "call-signal": linemsg.CallSignal(call_id, linemsg.Signal.HANGUP),
        "call-media": linemsg.CallMedia(b"\x01" * 40),
        "doc-data": linemsg.DocData(doc_id, 65536, b"chunk of a document"),
        "doc-progress": linemsg.DocProgress(doc_id, 65536, DocState.RECEIVING),
        "probe": probe,
    }
    out = {name: linemsg.encode(m) for name, m in messages.items()}  # type: ignore[arg-type]
    out["doc-meta"] = encode_meta(meta)
    return out


def pairing() -> dict[str, bytes]:
    """The genuine peer's side of a whole exchange, for each role."""
    listener, dialer = machine(Role.LISTENER), machine(Role.DIALER)
    to_listener, to_dialer = b"", b""
    for _ in range(20):
        from_listener, from_dialer = listener.data_to_send(), dialer.data_to_send()
        if not from_listener and not from_dialer:
            break
        to_dialer += from_listener
        to_listener += from_dialer
        if from_listener:
            dialer.receive_data(from_listener)
        if from_dialer:
            listener.receive_data(from_dialer)
        while (event := listener.next_event()) is not None:
            if isinstance(event, PeerCardReceived):
                listener.send_line_key(SEALED)
        while (event := dialer.next_event()) is not None:
            if isinstance(event, LineKeyReceived):
                dialer.finish()
    assert listener.finished and dialer.finished, "the corpus exchange did not finish"
    pake_frame = to_listener[: 4 + 1 + 32]
    return {
        "to-listener": b"\x10\xff" + to_listener,
        "to-dialer": b"\x11\xff" + to_dialer,
        "to-listener-abort": b"\x12\x20" + to_listener,
        "to-listener-cut": b"\x00\xff" + to_listener,
        "to-dialer-bytewise-eof": b"\x05\x00" + to_dialer,
        "pake-then-deadline": b"\x08\xff" + pake_frame,
    }


def cards() -> dict[str, bytes]:
    alpha = fixtures.card(fixtures.ALPHA)
    many = issue_card(
        fixtures.BRAVO,
        endpoints=["bravo.example:7000", "192.0.2.7:443", "[2001:db8::7]:7443"],
        created_at=fixtures.CARD_TIME,
    )
    armored = armor_card(alpha)
    return {
        "alpha": b"\x00" + encode_card(alpha),
        "bravo-three-endpoints": b"\x00" + encode_card(many),
        "alpha-armored": b"\x01" + armored.encode("ascii"),
        "alpha-armored-crlf-indented": b"\x01"
        + "".join(f"  {line}\r\n" for line in armored.splitlines()).encode(),
        "alpha-body": b"\x02" + alpha.body_bytes(),
        "alpha2": b"\x00" + encode_card(fixtures.card(fixtures.ALPHA2)),
        "alpha2-armored": b"\x01" + armor_card(fixtures.card(fixtures.ALPHA2)).encode("ascii"),
        "alpha2-body": b"\x03" + fixtures.card(fixtures.ALPHA2).body_bytes(),
    }


def linekeys() -> dict[str, bytes]:
    bravo = fixtures.card(fixtures.BRAVO)
    out: dict[str, bytes] = {}
    for n, label in enumerate(fixtures.LINE_LABELS):
        sealed = seal_line_key(
            fixtures.LINE_KEY,
            sender=fixtures.ALPHA,
            recipient=bravo,
            label=label,
            created_at=1_700_000_000 + n,
        )
        out[f"sealed-{n}"] = b"\x00" + sealed
    body, _signature = msgspec.msgpack.decode(out["sealed-0"][1:])
    out["body-0"] = b"\x01" + body
    bravo2 = fixtures.card(fixtures.BRAVO2)
    for n, label in enumerate(fixtures.LINE_LABELS):
        sealed = seal_line_key(
            fixtures.LINE_KEY,
            sender=fixtures.ALPHA2,
            recipient=bravo2,
            label=label,
            created_at=1_700_000_000 + n,
            profile="cnsa2",
        )
        out[f"cnsa2-sealed-{n}"] = b"\x02" + sealed
    body, _signature = msgspec.msgpack.decode(out["cnsa2-sealed-0"][1:])
    out["cnsa2-body-0"] = b"\x03" + body
    return out


def config() -> dict[str, bytes]:
    full = """\
name = "alpha"
listen = "0.0.0.0:7000"
endpoints = ["alpha.example:7000", "[2001:db8::1]:7000"]
heartbeat = 5.0
line_test_interval = 600.0
line_test_timeout = 20.0
redial_min = 1.0
redial_max = 60.0
max_pending = 64
store_max_pages = 100000
documents_max_bytes = 1048576
rekey_after = 90.0

[lines.bravo]
auto_answer = true
answer_play = "greeting.wav"
answer_record = "calls"
record_calls = true

[lines.charlie]
record_calls = false
"""
    return {
        "minimal": b'name = "alpha"\nlisten = "127.0.0.1:7000"\n',
        "full": full.encode(),
        "inline-line-table": b'name = "b"\nlisten = "b.example:1"\nlines = { x = { auto_answer = false } }\n',
        "refused-unknown-key": b'name = "alpha"\nlisten = "127.0.0.1:7000"\ncolour = "red"\n',
        # once a finding: the TOML parser ran out of stack instead of refusing the file
        "nested-arrays": b"x = " + b"[" * 1000,
    }


def carrier() -> dict[str, bytes]:
    """Cells a carrier sends (mode ``0x02``: 64-byte cells, frames up to 150 bytes; ``0x03``: 128)."""

    def cells(size: int, *offers: tuple[Lane, bytes], polls: int = 4) -> bytes:
        shaper = Carrier(0.0, interval=1.0, cell_size=size, max_frame=150)
        for lane, payload in offers:
            shaper.offer(lane, payload)
        return b"".join(cell.data for cell in shaper.poll(float(polls - 1)))

    return {
        "idle": b"\x02" + cells(64, polls=2),
        "every-lane": b"\x02" + cells(64, *((lane, bytes([lane]) * 9) for lane in Lane)),
        "split-frame": b"\x03" + cells(128, (Lane.MESSAGES, b"m" * 150), (Lane.FLASH, b"f" * 20)),
        "voice-and-document": b"\x03"
        + cells(128, (Lane.DOCUMENTS, bytes(range(150))), (Lane.VOICE, b"v" * 100), polls=3),
    }


TARGETS = {
    "carrier": carrier,
    "records": records,
    "handshake": handshake,
    "wire": wire,
    "pairing": pairing,
    "cards": cards,
    "linekeys": linekeys,
    "config": config,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=sorted(TARGETS), help="targets to write (default: all)")
    args = parser.parse_args()
    total = 0
    for name in args.targets:
        folder = CORPUS / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for file, data in TARGETS[name]().items():
            (folder / file).write_bytes(data)
            total += len(data)
        print(f"{name:10} {len(list(folder.iterdir())):3} files")
    print(f"{total} bytes in all")


if __name__ == "__main__":
    main()
