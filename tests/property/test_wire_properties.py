"""Hypothesis properties for the wire format and the Session's receive path.

The invariant (after h11's fuzz harness): arbitrary bytes, whole or one byte at a time, produce only
documented outcomes. Before authentication that means silence; after it, either nothing or a
``SessionTerminated`` event. Nothing raises.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.constants import MAX_CONTENT, MAX_MESSAGE_LEN, PADDING_BUCKETS
from hotline.proto.errors import ErrorCode
from hotline.proto.events import DataReceived, SessionTerminated
from hotline.proto.messages import (
    Close,
    Data,
    MessageError,
    Ping,
    Pong,
    RekeyInit,
    RekeyRequest,
    RekeyResponse,
    decode_message,
    encode_message,
)
from hotline.proto.records import ContentKind, RecordError, RecordReader, RecordType, frame, pad, unpad
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig
from hotline.proto.states import SessionState
from hotline.proto.stream import IncomingStream, OutgoingStream
from tests.support.pair import Peers, SessionPair

_CONFIG = SessionConfig(static=X25519PrivateKey.generate())

messages = st.one_of(
    st.builds(Data, st.binary(max_size=2000)),
    st.builds(Ping, st.integers(0, 2**64 - 1)),
    st.builds(Pong, st.integers(0, 2**64 - 1)),
    st.builds(RekeyInit, st.binary(max_size=200)),
    st.builds(RekeyResponse, st.binary(max_size=200)),
    st.just(RekeyRequest()),
    st.builds(Close, st.integers(0, 2**16 - 1), st.text(max_size=100)),
)


@given(messages)
def test_message_round_trip(message: object) -> None:
    assert decode_message(encode_message(message)) == message  # type: ignore[arg-type]


@given(st.binary(max_size=300))
def test_message_decoder_only_raises_message_error(blob: bytes) -> None:
    with contextlib.suppress(MessageError):
        decode_message(blob)


@given(st.binary(max_size=MAX_CONTENT).filter(lambda b: len(b) < 70000))
@settings(max_examples=50)
def test_padding_round_trip_hits_a_bucket(content: bytes) -> None:
    padded = pad(ContentKind.STREAM, content)
    assert len(padded) in PADDING_BUCKETS
    assert unpad(padded) == (ContentKind.STREAM, content)


@given(st.binary(max_size=600))
def test_unpad_only_raises_record_error(blob: bytes) -> None:
    with contextlib.suppress(RecordError):
        unpad(blob)


@given(st.lists(st.tuples(st.sampled_from(list(RecordType)), st.binary(max_size=300)), max_size=8), st.data())
def test_record_reader_reassembles_any_split(
    recs: list[tuple[RecordType, bytes]], draw: st.DataObject
) -> None:
    wire = b"".join(frame(t, b) for t, b in recs)
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    reader = RecordReader()
    out = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        reader.feed(wire[prev:cut])
        prev = cut
        while (rec := reader.next_record()) is not None:
            out.append(rec)
    assert out == [(int(t), b) for t, b in recs]


@given(st.lists(messages, min_size=1, max_size=20), st.data())
@settings(max_examples=300)
def test_message_stream_survives_any_cut(msgs: list, draw: st.DataObject) -> None:
    out = OutgoingStream()
    for m in msgs:
        out.push(m)
    incoming = IncomingStream()
    got = []
    while out.pending:
        got += incoming.feed(b"".join(out.take(draw.draw(st.integers(1, 5000)))))
    # a large Data comes back as a DataView (its body a view): the same message on the wire
    assert [encode_message(m) for m in got] == [encode_message(m) for m in msgs]  # type: ignore[arg-type]
    assert incoming.buffered == 0


@given(st.binary(max_size=600))
def test_incoming_stream_only_raises_message_error(blob: bytes) -> None:
    with contextlib.suppress(MessageError):
        IncomingStream().feed(blob)


def test_a_frame_header_cut_after_a_long_partial_is_still_read() -> None:
    """Regression: after finishing a message that spanned feeds, a next frame whose header was cut
    must not wait for the old message's length."""
    out = OutgoingStream()
    out.push(Data(b"\x00"))
    out.push(Data(b""))
    wire = b"".join(out.take(100))
    incoming = IncomingStream()
    assert incoming.feed(wire[:5]) == []  # inside the first frame
    (first,) = incoming.feed(wire[5:11])  # finishes it, cuts the next header
    assert encode_message(first) == encode_message(Data(b"\x00"))  # type: ignore[arg-type]
    (second,) = incoming.feed(wire[11:])
    assert encode_message(second) == encode_message(Data(b""))  # type: ignore[arg-type]


def test_oversized_frame_is_refused_before_buffering() -> None:
    with pytest.raises(MessageError):
        IncomingStream().feed((MAX_MESSAGE_LEN + 1).to_bytes(4, "big") + b"x")


def _stranger_outcome(chunks: list[bytes]) -> None:
    r = Session.responder(_CONFIG, peers=Peers(), guard=TimestampGuard(), now=0.0)
    for chunk in chunks:
        r.receive_data(chunk, 1.0)
        assert r.data_to_send() == b""
        assert r.next_event() is None
    assert r.state in (SessionState.AWAIT_INITIATION, SessionState.DROPPED)


@given(st.binary(min_size=1, max_size=3000))
def test_arbitrary_bytes_to_a_responder_whole(blob: bytes) -> None:
    _stranger_outcome([blob])


@given(st.binary(min_size=1, max_size=400))
def test_arbitrary_bytes_to_a_responder_one_at_a_time(blob: bytes) -> None:
    _stranger_outcome([blob[i : i + 1] for i in range(len(blob))])


_ENDINGS = {ErrorCode.PROTOCOL_VIOLATION, ErrorCode.DECRYPT_FAILED, ErrorCode.MESSAGE_TOO_LARGE}


@given(st.binary(min_size=1, max_size=2000), st.booleans())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_to_an_established_session(blob: bytes, bytewise: bool) -> None:
    pair = SessionPair()
    pair.roundtrip_until_idle()
    pair.take("r")
    chunks = [blob[i : i + 1] for i in range(len(blob))] if bytewise else [blob]
    for chunk in chunks:
        pair.r.receive_data(chunk, pair.now)
    pair.drain()
    events = pair.take("r")
    assert not any(isinstance(e, DataReceived) for e in events)
    ends = [e for e in events if isinstance(e, SessionTerminated)]
    assert len(ends) <= 1
    if ends:
        assert ends[0].code in _ENDINGS
        assert pair.r.state is SessionState.CLOSED
    else:
        assert pair.r.state is SessionState.ESTABLISHED
