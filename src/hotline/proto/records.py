"""Record framing and padding (docs/protocol.md §5.1, §5.2).

A record on the stream is ``length:u16be || type:u8 || body`` where ``length`` counts the type byte
and the body. Transport plaintexts are ``kind:u8 || content_len:u16be || content || zeros``, padded
to a size bucket, so an observer learns only the bucket, not the length.

Everything here is exact: a length that does not match what the type requires is an error, never a
guess.
"""

from __future__ import annotations

from enum import IntEnum

from hotline.proto.constants import (
    MAX_CONTENT,
    MAX_RECORD_BODY,
    PADDING_BUCKETS,
    PLAINTEXT_HEADER_LEN,
    RECORD_HEADER_LEN,
)


class RecordType(IntEnum):
    """What a record holds."""

    #: First handshake message (Noise message 1 + initiation MAC), in the clear.
    HANDSHAKE_INIT = 1
    #: Second handshake message, in the clear.
    HANDSHAKE_RESPONSE = 2
    #: A transport record under key phase 0.
    TRANSPORT_PHASE0 = 3
    #: A transport record under key phase 1 (the phase flips at each rekey).
    TRANSPORT_PHASE1 = 4


class RecordError(ValueError):
    """A record or plaintext is malformed."""


class ContentKind(IntEnum):
    """What a transport plaintext's content is."""

    #: A msgspec-encoded :mod:`hotline.proto.messages` message.
    MESSAGE = 1


def frame(record_type: RecordType, body: bytes) -> bytes:
    """Build a record."""
    if len(body) > MAX_RECORD_BODY:
        raise RecordError("record body too long")
    return (len(body) + 1).to_bytes(2, "big") + bytes([record_type]) + body


class RecordReader:
    """Cuts a byte stream into records. Holds at most one partial record (bounded by ``max_len``).

    Not safe for concurrent use.
    """

    __slots__ = ("_buf", "max_len")

    def __init__(self, max_len: int = MAX_RECORD_BODY + 1) -> None:
        self._buf = bytearray()
        #: The largest ``length`` field accepted; a larger one is an error before buffering.
        self.max_len = max_len

    def feed(self, data: bytes) -> None:
        """Add bytes from the stream."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their record."""
        return len(self._buf)

    def next_record(self) -> tuple[int, bytes] | None:
        """The next complete ``(type, body)``, or None if more bytes are needed.

        Raises:
            RecordError: a zero or oversized length field.
        """
        buf = self._buf
        if len(buf) < 2:
            return None
        length = int.from_bytes(buf[:2], "big")
        if length == 0 or length > self.max_len:
            raise RecordError(f"record length {length} out of range")
        end = 2 + length
        if len(buf) < end:
            return None
        record_type = buf[2]
        body = bytes(buf[RECORD_HEADER_LEN:end])
        del buf[:end]
        return record_type, body


def bucket_for(length: int) -> int:
    """The padded plaintext size for ``length`` bytes of plaintext."""
    for size in PADDING_BUCKETS:
        if length <= size:
            return size
    raise RecordError("plaintext too long")


def pad(kind: ContentKind, content: bytes) -> bytes:
    """Build a padded transport plaintext."""
    if len(content) > MAX_CONTENT:
        raise RecordError("content too long for one record")
    used = PLAINTEXT_HEADER_LEN + len(content)
    size = bucket_for(used)
    return bytes([kind]) + len(content).to_bytes(2, "big") + content + bytes(size - used)


def unpad(plaintext: bytes) -> tuple[int, bytes]:
    """Parse a padded transport plaintext into ``(kind, content)``.

    Raises:
        RecordError: wrong bucket size, a length past the end, or non-zero padding.
    """
    if len(plaintext) not in PADDING_BUCKETS:
        raise RecordError("plaintext is not a bucket size")
    kind = plaintext[0]
    length = int.from_bytes(plaintext[1:3], "big")
    end = PLAINTEXT_HEADER_LEN + length
    if end > len(plaintext):
        raise RecordError("content length past the end of the record")
    if bucket_for(end) != len(plaintext):
        raise RecordError("record padded past its bucket")
    if plaintext.count(0, end) != len(plaintext) - end:
        raise RecordError("padding is not zero")
    return kind, plaintext[PLAINTEXT_HEADER_LEN:end]
