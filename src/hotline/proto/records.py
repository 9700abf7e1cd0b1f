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

_ZEROS = memoryview(bytes(MAX_RECORD_BODY))


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

    #: The next slice of the direction's message stream (:mod:`hotline.proto.stream`).
    STREAM = 1
    #: A carrier cell (docs/protocol.md §14, :mod:`hotline.proto.carrier`): always ``cell_size`` bytes.
    CELL = 2


def frame(record_type: RecordType, body: bytes) -> bytes:
    """Build a record."""
    if len(body) > MAX_RECORD_BODY:
        raise RecordError("record body too long")
    return (len(body) + 1).to_bytes(2, "big") + bytes([record_type]) + body


class RecordReader:
    """Cuts a byte stream into records. Holds at most one partial record (bounded by ``max_len``).

    Bodies are memoryviews into the fed bytes (no copy); only a record that straddles two feeds is
    copied, once, into a buffer that is then the record's own. Fed data must not change afterwards.
    Not safe for concurrent use.
    """

    __slots__ = ("_partial", "_pos", "_view", "max_len")

    def __init__(self, max_len: int = MAX_RECORD_BODY + 1) -> None:
        self._view = memoryview(b"")
        self._pos = 0
        self._partial = bytearray()
        #: The largest ``length`` field accepted; a larger one is an error before buffering.
        self.max_len = max_len

    def feed(self, data: bytes | bytearray) -> None:
        """Add bytes from the stream (call after :meth:`next_record` returned None)."""
        rest = self._view[self._pos :]
        if rest:  # not all read yet: keep it with the partial record
            self._partial += rest
        self._view = memoryview(data if isinstance(data, bytes) else bytes(data))
        self._pos = 0

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their record."""
        return len(self._partial) + len(self._view) - self._pos

    def _length(self, header: bytes | bytearray | memoryview) -> int:
        length = int.from_bytes(header[:2], "big")
        if length == 0 or length > self.max_len:
            raise RecordError(f"record length {length} out of range")
        return length

    def next_record(self) -> tuple[int, memoryview] | None:
        """The next complete ``(type, body)``, or None if more bytes are needed.

        Raises:
            RecordError: a zero or oversized length field.
        """
        view, pos, partial = self._view, self._pos, self._partial
        if partial:
            # finish the record that straddled feeds: copy just its missing bytes
            if len(partial) < 2:
                take = min(2 - len(partial), len(view) - pos)
                partial += view[pos : pos + take]
                pos = self._pos = pos + take
                if len(partial) < 2:
                    return None
            end = 2 + self._length(partial)
            take = min(end - len(partial), len(view) - pos)
            partial += view[pos : pos + take]
            self._pos = pos + take
            if len(partial) < end:
                return None
            # the gathered bytes become the record's own (no second copy); the next partial record
            # is gathered in a fresh buffer, so nothing changes under the view handed out
            record = memoryview(partial)
            self._partial = bytearray()
            return record[2], record[RECORD_HEADER_LEN:end]
        if len(view) - pos < 2:
            return None
        end = pos + 2 + self._length(view[pos : pos + 2])
        if len(view) < end:
            return None
        self._pos = end
        return view[pos + 2], view[pos + RECORD_HEADER_LEN : end]


def bucket_for(length: int) -> int:
    """The padded plaintext size for ``length`` bytes of plaintext."""
    for size in PADDING_BUCKETS:
        if length <= size:
            return size
    raise RecordError("plaintext too long")


def pad(kind: ContentKind, *parts: bytes | memoryview | list[bytes | bytearray | memoryview]) -> bytes:
    """Build a padded transport plaintext whose content is the concatenation of ``parts``
    (each a byte string or a list of them), copying each byte once."""
    pieces: list[bytes | bytearray | memoryview] = []
    for part in parts:
        if isinstance(part, list):
            pieces.extend(part)
        else:
            pieces.append(part)
    length = sum(len(p) for p in pieces)
    if length > MAX_CONTENT:
        raise RecordError("content too long for one record")
    used = PLAINTEXT_HEADER_LEN + length
    size = bucket_for(used)
    header = bytes([kind]) + length.to_bytes(2, "big")
    return b"".join((header, *pieces, _ZEROS[: size - used]))


def pad_into(out: bytearray, kind: ContentKind, pieces: list[bytes | bytearray | memoryview]) -> int:
    """Build in ``out`` (at least :data:`MAX_PLAINTEXT` bytes, reused from record to record) the
    padded transport plaintext whose content is the concatenation of ``pieces``, as :func:`pad`
    would; returns its size (the plaintext is ``out[:size]``). Copies each byte once, allocating
    nothing."""
    length = sum(len(p) for p in pieces)
    if length > MAX_CONTENT:
        raise RecordError("content too long for one record")
    used = PLAINTEXT_HEADER_LEN + length
    size = bucket_for(used)
    out[0] = kind
    out[1:3] = length.to_bytes(2, "big")
    pos = PLAINTEXT_HEADER_LEN
    for piece in pieces:
        end = pos + len(piece)
        out[pos:end] = piece
        pos = end
    out[used:size] = _ZEROS[: size - used]
    return size


def unpad(plaintext: bytes) -> tuple[int, memoryview]:
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
    if not plaintext.startswith(_ZEROS[: len(plaintext) - end], end):
        raise RecordError("padding is not zero")
    return kind, memoryview(plaintext)[PLAINTEXT_HEADER_LEN:end]
