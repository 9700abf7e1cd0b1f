"""The paths that carry a payload without copying it: a sender's borrowed parts and a receiver's
views. They must put exactly the bytes of the copying paths on the wire, and a view handed out must
never change afterwards, whatever the sender or the receiver does next."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto import linemsg
from hotline.proto.constants import MAX_CONTENT
from hotline.proto.events import DataReceived
from hotline.proto.messages import Data, DataView, Ping, bin_header, data_head, encode_message
from hotline.proto.stream import IncomingStream, OutgoingStream
from tests.support.pair import SessionPair

_BYTES = bytes(range(256)) * 600


def _pattern(n: int, size: int) -> bytes:
    """``size`` bytes that differ from payload to payload (``n``)."""
    return _BYTES[n % 256 : n % 256 + size]


sizes = st.one_of(st.integers(0, 300), st.integers(65530, 65540), st.integers(0, 140_000))


@given(st.integers(0, 2**20))
def test_bin_and_data_heads_are_msgspecs_encoding(length: int) -> None:
    body = bytes(length)
    assert encode_message(Data(body)) == data_head(length) + body
    assert bin_header(length) == data_head(length)[2:]


@given(st.binary(min_size=16, max_size=16), st.integers(0, 2**40), st.integers(1, 65536))
def test_doc_data_head_is_the_encoding_up_to_the_data(doc_id: bytes, offset: int, length: int) -> None:
    data = _pattern(offset, length)
    assert linemsg.doc_data_head(doc_id, offset, length) + data == linemsg.encode(
        linemsg.DocData(doc_id, offset, memoryview(data))
    )


@given(st.lists(st.tuples(st.lists(sizes, min_size=1, max_size=3), st.booleans()), max_size=6), st.data())
@settings(max_examples=150)
def test_borrowed_parts_put_the_same_bytes_in_the_stream(
    payloads: list[tuple[list[int], bool]], draw: st.DataObject
) -> None:
    """push_data(parts) == push(Data(join(parts))), cut anywhere, with own() anywhere between; and
    after own() the owner may overwrite its buffers without changing what is sent."""
    borrowed, copied = OutgoingStream(), OutgoingStream()
    buffers: list[bytearray] = []
    for n, (part_sizes, small) in enumerate(payloads):
        parts = [bytearray(_pattern(n + i, size)) for i, size in enumerate(part_sizes)]
        buffers += parts
        if small:
            copied.push(Ping(n))
            borrowed.push(Ping(n))
        copied.push(Data(b"".join(parts)))
        borrowed.push_data(list(parts))
    expected = b"".join(copied.take(copied.pending))
    got = b""
    while borrowed.pending:
        got += b"".join(borrowed.take(draw.draw(st.integers(1, MAX_CONTENT))))
        if draw.draw(st.booleans()):
            borrowed.own()
            for buffer in buffers:  # the owner reuses its buffers: nothing queued may change
                buffer[:] = bytes(len(buffer))
    assert got == expected


@given(st.lists(sizes, min_size=1, max_size=8), st.data())
@settings(max_examples=150)
def test_views_handed_out_never_change(bodies: list[int], draw: st.DataObject) -> None:
    """Every payload read back equals what was sent, checked after the whole stream was fed (so a
    view of a buffer that a later feed reused would show)."""
    out = OutgoingStream()
    sent = [_pattern(n * 7, size) for n, size in enumerate(bodies)]
    for body in sent:
        out.push(Data(body))
    incoming = IncomingStream()
    got = []
    while out.pending:
        content = bytearray(b"".join(out.take(draw.draw(st.integers(1, MAX_CONTENT)))))
        got += incoming.feed(bytes(content))
        content[:] = bytes(len(content))  # the record's own buffer is not what a view may keep
    assert [bytes(m.body) for m in got] == sent  # type: ignore[union-attr]
    assert incoming.buffered == 0


def test_a_large_payload_arrives_as_a_view_a_small_one_as_bytes() -> None:
    out = OutgoingStream()
    out.push(Data(b"x" * 100_000))
    out.push(Data(b"y" * 10))
    incoming = IncomingStream()
    got = []
    while out.pending:
        got += incoming.feed(b"".join(out.take(MAX_CONTENT)))
    assert isinstance(got[0], DataView) and bytes(got[0].body) == b"x" * 100_000
    assert isinstance(got[1], Data | DataView) and bytes(got[1].body) == b"y" * 10


@given(st.lists(st.integers(1, 65536), min_size=1, max_size=40))
@settings(max_examples=20, deadline=None)
def test_document_chunks_through_two_sessions_are_unchanged(lengths: list[int]) -> None:
    """Chunks sent as borrowed parts from one buffer that is overwritten after each own_queued(),
    as the document desk does, arrive intact, and the views kept for the writer stay intact."""
    pair = SessionPair()
    pair.roundtrip_until_idle()
    pair.take("r")
    buffer = bytearray(65536)
    sent: list[bytes] = []
    kept: list[memoryview] = []

    def keep_received() -> None:
        pair.drain()
        for event in pair.take("r"):
            if isinstance(event, DataReceived):
                message = linemsg.decode(event.data)
                assert isinstance(message, linemsg.DocData)
                kept.append(message.data)

    for n, length in enumerate(lengths):
        buffer[:length] = _pattern(n, length)
        sent.append(bytes(buffer[:length]))
        with memoryview(buffer) as view:
            head = linemsg.doc_data_head(bytes(16), n * 65536, length)
            pair.i.send_parts([head, view[:length]], pair.now)
            while pair.i.has_full_record:
                pair.r.receive_data(pair.i.data_to_send(flush=False), pair.now)
            pair.i.own_queued()
        buffer[:] = bytes(65536)  # the next read goes into the same buffer
        if n % 3 == 0:
            pair.transfer(pair.i)
        keep_received()
    pair.transfer(pair.i)
    keep_received()
    assert [bytes(k) for k in kept] == sent
