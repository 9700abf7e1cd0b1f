"""The message stream inside a session's records (docs/protocol.md §5.3).

Messages are not tied to records: each direction of a session carries one ordered stream of framed
messages, ``u32be(length) || msgpack(message)``, and records carry consecutive slices of it. A
burst of small messages shares a record; a large message spans several; a bulk sender fills every
record to the largest padding bucket, so padding costs nothing where volume is. The receiver
reassembles, bounded by :data:`MAX_MESSAGE_LEN`.

Both classes are plain buffers: no keys, no records, no time.
"""

from __future__ import annotations

import struct
from collections import deque

from hotline.proto.constants import MAX_MESSAGE_LEN
from hotline.proto.messages import (
    Bytes,
    Message,
    MessageError,
    ReceivedMessage,
    data_head,
    decode_message_view,
    encode_message,
)

FRAME_HEADER_LEN = 4
_HEADER = struct.Struct(">I")
_SMALL = 4096
_TAIL_MAX = 65536


def _view(chunk: bytes | bytearray | memoryview) -> memoryview:
    return chunk if type(chunk) is memoryview else memoryview(chunk)


class OutgoingStream:
    """Framed messages waiting to be cut into records. Not safe for concurrent use.

    Small messages are appended to a growing tail buffer (one C-level copy each, and few pieces to
    cut); a large one is kept as its own chunk and never copied here. The parts of a ``Data`` body
    given to :meth:`push_data` are kept as they are, borrowed, until taken or :meth:`own`.
    """

    __slots__ = ("_chunks", "_head", "pending")

    def __init__(self) -> None:
        self._chunks: deque[bytes | bytearray | memoryview] = deque()
        self._head = 0  # bytes already taken from the first chunk, when it is immutable
        #: Bytes waiting to be taken.
        self.pending = 0

    def push(self, message: Message) -> None:
        """Frame ``message`` and queue it.

        Raises:
            MessageError: the encoded message is longer than :data:`MAX_MESSAGE_LEN`.
        """
        encoded = encode_message(message)
        size = len(encoded)
        if size > MAX_MESSAGE_LEN:
            raise MessageError("message too long")
        chunks = self._chunks
        if size < _SMALL:
            tail = chunks[-1] if chunks else None
            if type(tail) is bytearray and len(tail) < _TAIL_MAX:
                tail += _HEADER.pack(size)
                tail += encoded
            else:
                chunks.append(bytearray(_HEADER.pack(size) + encoded))
        else:
            chunks.append(_HEADER.pack(size))
            chunks.append(encoded)
        self.pending += FRAME_HEADER_LEN + size

    def push_data(self, parts: list[Bytes]) -> None:
        """Frame a ``Data`` message whose body is the concatenation of ``parts``, and queue it without
        copying them: the same bytes as ``push(Data(b"".join(parts)))``. The parts are borrowed: they
        must not change until they are taken, or until :meth:`own` has copied what is left of them.

        Raises:
            MessageError: the encoded message is longer than :data:`MAX_MESSAGE_LEN`.
        """
        body = sum(len(part) for part in parts)
        head = data_head(body)
        size = len(head) + body
        if size > MAX_MESSAGE_LEN:
            raise MessageError("message too long")
        chunks = self._chunks
        chunks.append(_HEADER.pack(size) + head)
        for part in parts:
            if part:
                # a view, never the caller's bytearray: take() cuts a bytearray's front in place
                chunks.append(part if type(part) is bytes else memoryview(part))
        self.pending += FRAME_HEADER_LEN + size

    def own(self) -> None:
        """Copy what is still queued of borrowed parts (:meth:`push_data`), so that their owner may
        change them. Copies at most what waits for a record, not what was already taken."""
        chunks = self._chunks
        for at, chunk in enumerate(chunks):
            if type(chunk) is memoryview:
                if at == 0 and self._head:
                    chunks[0] = bytes(chunk[self._head :])
                    self._head = 0
                else:
                    chunks[at] = bytes(chunk)

    def take(self, limit: int) -> list[bytes | bytearray | memoryview]:
        """Take up to ``limit`` bytes from the front, as pieces to join at once."""
        pieces: list[bytes | bytearray | memoryview] = []
        room = limit
        chunks = self._chunks
        while room and chunks:
            first = chunks[0]
            if type(first) is bytearray:
                # a tail of small messages: hand it over whole, or cut its front off
                if len(first) <= room:
                    pieces.append(chunks.popleft())
                    room -= len(first)
                else:
                    pieces.append(bytes(first[:room]))
                    del first[:room]
                    room = 0
                continue
            available = len(first) - self._head
            if available <= room:
                pieces.append(_view(first)[self._head :] if self._head else first)
                chunks.popleft()
                self._head = 0
                room -= available
            else:
                pieces.append(_view(first)[self._head : self._head + room])
                self._head += room
                room = 0
        self.pending -= limit - room
        return pieces

    def clear(self) -> None:
        """Forget everything queued."""
        self._chunks.clear()
        self._head = 0
        self.pending = 0


class IncomingStream:
    """Reassembles framed messages from record contents. Not safe for concurrent use.

    Holds at most one partial message (bounded by :data:`MAX_MESSAGE_LEN`), as views of the record
    contents it came in: fed contents must not change afterwards (an opened record's plaintext is a
    fresh ``bytes``). A message that spans records is joined once, into bytes of its own; a ``Data``
    message's body is then a view of those (:class:`~hotline.proto.messages.DataView`), and so is
    the body of one that fills most of a record, so a payload is not copied again on its way up.
    A small message is copied out first, so that it does not keep a whole record's bytes alive.
    """

    __slots__ = ("_held", "_need", "_parts")

    def __init__(self) -> None:
        self._parts: list[memoryview] = []  # the partial message, in pieces
        self._held = 0  # bytes in _parts
        self._need = FRAME_HEADER_LEN  # bytes the partial message needs in all, once its header is read

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held."""
        return self._held

    def feed(self, content: bytes | memoryview) -> list[ReceivedMessage]:
        """Add one record's content; return the messages it completes, in order.

        Raises:
            MessageError: a frame longer than allowed, or a message that does not decode.
        """
        messages: list[ReceivedMessage] = []
        with memoryview(content) as view:
            end = len(view)
            pos = self._finish(view, messages) if self._parts else 0
            while end - pos >= FRAME_HEADER_LEN:
                (length,) = _HEADER.unpack_from(view, pos)
                if length == 0 or length > MAX_MESSAGE_LEN:
                    raise MessageError(f"message frame length {length} out of range")
                stop = pos + FRAME_HEADER_LEN + length
                if stop > end:
                    self._need = FRAME_HEADER_LEN + length
                    break
                frame = view[pos + FRAME_HEADER_LEN : stop]
                # a view of the record only for a message that fills most of it: a small one is
                # copied first, so that it does not keep the whole record alive for a few bytes
                messages.append(decode_message_view(frame if 2 * length >= end else bytes(frame)))
                pos = stop
            if pos < end:
                self._parts.append(view[pos:])
                self._held += end - pos
        return messages

    def _finish(self, view: memoryview, messages: list[ReceivedMessage]) -> int:
        """Add the front of ``view`` to the partial message; returns where the rest starts."""
        parts, pos, end = self._parts, 0, len(view)
        while pos < end:
            take = min(self._need - self._held, end - pos)
            parts.append(view[pos : pos + take])
            self._held += take
            pos += take
            if self._held < self._need:
                return pos  # still inside the message (or its header)
            if self._need == FRAME_HEADER_LEN:
                # the header was cut: now it says how long the message is
                (length,) = _HEADER.unpack(b"".join(parts))
                if length == 0 or length > MAX_MESSAGE_LEN:
                    raise MessageError(f"message frame length {length} out of range")
                self._need += length
                continue
            joined = b"".join(parts)
            parts.clear()
            self._held, self._need = 0, FRAME_HEADER_LEN
            messages.append(decode_message_view(memoryview(joined)[FRAME_HEADER_LEN:]))
            return pos
        return pos
