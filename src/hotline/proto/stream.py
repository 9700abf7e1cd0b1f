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
from hotline.proto.messages import Message, MessageError, decode_message, encode_message

FRAME_HEADER_LEN = 4
_HEADER = struct.Struct(">I")
_SMALL = 4096
_TAIL_MAX = 65536


class OutgoingStream:
    """Framed messages waiting to be cut into records. Not safe for concurrent use.

    Small messages are appended to a growing tail buffer (one C-level copy each, and few pieces to
    cut); a large one is kept as its own chunk and never copied here.
    """

    __slots__ = ("_chunks", "_head", "pending")

    def __init__(self) -> None:
        self._chunks: deque[bytes | bytearray] = deque()
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
                pieces.append(memoryview(first)[self._head :] if self._head else first)
                chunks.popleft()
                self._head = 0
                room -= available
            else:
                pieces.append(memoryview(first)[self._head : self._head + room])
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

    Holds at most one partial message (bounded by :data:`MAX_MESSAGE_LEN`) plus the rest of the
    record it came in.
    """

    __slots__ = ("_buf", "_need")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need = 0  # bytes the partial message in _buf needs in all

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message held."""
        return len(self._buf)

    def feed(self, content: bytes | memoryview) -> list[Message]:
        """Add one record's content; return the messages it completes, in order.

        Raises:
            MessageError: a frame longer than allowed, or a message that does not decode.
        """
        buf = self._buf
        if buf:
            buf += content
            if len(buf) < self._need:
                return []  # still inside one long message: no parsing, no copying
            data: bytearray | bytes | memoryview = buf
        else:
            data = content  # the common case: parse in place, copy only a trailing partial
        messages: list[Message] = []
        pos = 0
        self._need = FRAME_HEADER_LEN  # until a whole frame header says more
        with memoryview(data) as view:
            end = len(view)
            while end - pos >= FRAME_HEADER_LEN:
                (length,) = _HEADER.unpack_from(view, pos)
                if length == 0 or length > MAX_MESSAGE_LEN:
                    raise MessageError(f"message frame length {length} out of range")
                stop = pos + FRAME_HEADER_LEN + length
                if stop > end:
                    self._need = stop - pos
                    break
                messages.append(decode_message(view[pos + FRAME_HEADER_LEN : stop]))
                pos = stop
            if data is not buf:
                self._buf = bytearray(view[pos:])
        if data is buf and pos:
            del buf[:pos]
        return messages
