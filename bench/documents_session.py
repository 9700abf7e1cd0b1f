"""The session's per-byte cost of documents, in one process: CPU seconds per GiB on each side.

A sender :class:`~hotline.proto.session.Session` seals ``DocData`` chunks the way the document
desk sends them (1 MiB blocks of 64 KiB chunks, full records written as they fill, the rest at the
end of each block), and a receiver opens them in 256 KiB reads (what asyncio hands a protocol) and
decodes each line message, holding the chunks of one 1 MiB run as the document writer does. Each
side's calls are timed apart (``time.process_time``), so the numbers are the session's, the
messages' and the cipher's cost per byte, without sockets, disks or hashes.

Run: ``python -m bench.documents_session [MiB] [standard|cnsa2]``.
"""

from __future__ import annotations

import sys
import time

from bench.handshake import establish_in_memory
from bench.line import make_line
from hotline.proto import linemsg
from hotline.proto.events import DataReceived
from hotline.proto.session import Session
from hotline.proto.suites import CNSA2, STANDARD, Suite

CHUNK = 64 * 1024
BLOCK = 2**20
READ = 256 * 1024
GIB = 2**30


def _send_block(session: Session, doc_id: bytes, offset: int, block: memoryview) -> None:
    # as the document desk sends (non-carrier line): each chunk borrowed, behind its message head
    for at in range(0, len(block), CHUNK):
        piece = block[at : at + CHUNK]
        session.send_parts([linemsg.doc_data_head(doc_id, offset + at, len(piece)), piece], 0.0)
        while session.has_full_record:
            _WIRE.append(session.data_to_send(flush=False))


_WIRE: list[bytes | bytearray] = []


def measure(mib: int, suite: Suite) -> tuple[float, float, int]:
    """Seal and open ``mib`` MiB of ``DocData``; return (sender CPU s/GiB, receiver CPU s/GiB, bytes)."""
    sender, receiver = establish_in_memory(make_line(suite))
    while receiver.next_event() is not None:
        pass
    sender.data_to_send()
    doc_id = bytes(16)
    block = bytearray(BLOCK)
    for i in range(0, BLOCK, 4096):
        block[i : i + 8] = i.to_bytes(8, "big")
    view = memoryview(block)
    wire = _WIRE
    wire.clear()
    sent = 0
    start = time.process_time()
    for n in range(mib):
        _send_block(sender, doc_id, n * BLOCK, view)
        wire.append(sender.data_to_send())
        sent += BLOCK
    send_cpu = time.process_time() - start
    stream = b"".join(wire)  # (not timed)
    reads = [stream[i : i + READ] for i in range(0, len(stream), READ)]
    wire.clear()
    del stream
    got = 0
    run: list[object] = []
    held = 0
    start = time.process_time()
    for read in reads:
        receiver.receive_data(read, 0.0)
        while (event := receiver.next_event()) is not None:
            if isinstance(event, DataReceived):
                message = linemsg.decode(event.data)
                assert isinstance(message, linemsg.DocData)
                run.append(message.data)
                got += len(message.data)
                held += len(message.data)
                if held >= BLOCK:
                    run, held = [], 0
    recv_cpu = time.process_time() - start
    if got != sent:
        raise RuntimeError(f"received {got} of {sent} bytes")
    return send_cpu * GIB / sent, recv_cpu * GIB / sent, sent


def main(argv: list[str]) -> None:
    mib = int(argv[0]) if argv else 64
    suite = CNSA2 if len(argv) > 1 and argv[1] == "cnsa2" else STANDARD
    results = [measure(mib, suite) for _ in range(3)]
    send = min(r[0] for r in results)
    recv = min(r[1] for r in results)
    print(
        f"{suite.profile}: {mib} MiB, best of 3: sender {send:.3f} CPU s/GiB, receiver {recv:.3f} CPU s/GiB"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
