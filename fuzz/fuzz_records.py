"""Fuzz target ``records``: record framing, padding and message reassembly.

Input: ``mode:u8 || cut:u8 || stream``. The stream goes to a :class:`RecordReader` (its ``max_len``
chosen by ``mode``) whole and again in ``cut``-byte pieces; every record body is unpadded as a
transport plaintext; and the stream, cut the same two ways, is fed to an :class:`IncomingStream` as
record contents.

Contract:

* the reader raises only :class:`RecordError`, ``unpad`` only :class:`RecordError`, the incoming
  stream only :class:`MessageError`;
* cutting the input differently changes nothing: the same records, then the same error or the same
  bytes left buffered; the same messages and leftover, or a refusal either way;
* ``buffered`` never exceeds one record's worth;
* what ``unpad`` accepts, ``pad`` rebuilds byte for byte (one padded form per content);
* what decodes as a message re-encodes to something that decodes to the same message.
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from hotline.proto.constants import MAX_MESSAGE_LEN, MAX_RECORD_BODY
    from hotline.proto.handshake import INIT_LEN, RESPONSE_LEN
    from hotline.proto.messages import MessageError, ReceivedMessage, decode_message, encode_message
    from hotline.proto.records import ContentKind, RecordError, RecordReader, pad, unpad
    from hotline.proto.stream import IncomingStream

#: The reader limits a session uses: in the handshake (each role), and after it.
_MAX_LENS = (INIT_LEN + 1, RESPONSE_LEN + 1, MAX_RECORD_BODY + 1, 65535, 64)


def _pieces(data: bytes, cut: int) -> list[bytes]:
    return [data[i : i + cut] for i in range(0, len(data), cut)] or [b""]


def _read_records(pieces: list[bytes], max_len: int) -> tuple[list[tuple[int, bytes]], bool, int]:
    """Records read from ``pieces``, whether the reader refused the stream, and what it holds."""
    reader = RecordReader(max_len=max_len)
    records: list[tuple[int, bytes]] = []
    try:
        for piece in pieces:
            reader.feed(piece)
            while (record := reader.next_record()) is not None:
                record_type, body = record
                assert 1 <= len(body) + 1 <= max_len
                records.append((record_type, bytes(body)))
            assert reader.buffered < 2 + max_len
    except RecordError:
        return records, True, -1
    return records, False, reader.buffered


def _check_unpad(body: bytes) -> None:
    try:
        kind, content = unpad(body)
    except RecordError:
        return
    rebuilt = bytes([kind]) + pad(ContentKind.STREAM, bytes(content))[1:]
    assert rebuilt == body, "unpad accepted a plaintext that pad does not produce"


def _read_messages(pieces: list[bytes]) -> tuple[list[ReceivedMessage], int] | None:
    """Messages reassembled from ``pieces`` and the bytes left buffered, or None if refused."""
    incoming = IncomingStream()
    messages: list[ReceivedMessage] = []
    try:
        for piece in pieces:
            messages += incoming.feed(piece)
            assert incoming.buffered < 4 + MAX_MESSAGE_LEN
    except MessageError:
        return None  # the messages completed by the refused piece are lost with it, by design
    return messages, incoming.buffered


def test_one_input(data: bytes) -> None:
    """Check the framing contract on one input (see the module docstring)."""
    if len(data) < 2:
        return
    max_len = _MAX_LENS[data[0] % len(_MAX_LENS)]
    cut = data[1] + 1
    stream = data[2:]

    whole = _read_records([stream], max_len)
    assert _read_records(_pieces(stream, cut), max_len) == whole, "records depend on how the stream is cut"
    for _, body in whole[0]:
        _check_unpad(body)
    _check_unpad(stream)

    reassembled = _read_messages([stream])
    assert _read_messages(_pieces(stream, cut)) == reassembled, "messages depend on how the stream is cut"
    for message in reassembled[0] if reassembled else []:
        # a Data comes out of the stream with its body a view (DataView): compare the encodings
        assert encode_message(decode_message(encode_message(message))) == encode_message(message)


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
