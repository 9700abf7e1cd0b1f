"""Wire messages carried inside transport records (docs/protocol.md §5.3).

One msgspec Struct per message, encoded as a msgpack array with an integer tag first. Decoding is
strict: unknown tags, wrong types, extra or missing fields all fail with :class:`MessageError`.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from hotline.proto.constants import MAX_DATA_LEN


class _Message(msgspec.Struct, frozen=True, array_like=True, tag_field="t", forbid_unknown_fields=True):
    pass


class Data(_Message, frozen=True, tag=0):
    """An application payload."""

    body: bytes


class Ping(_Message, frozen=True, tag=1):
    """Keepalive; the peer answers with :class:`Pong` carrying the same ``id``."""

    id: int


class Pong(_Message, frozen=True, tag=2):
    """Answer to :class:`Ping`."""

    id: int


class RekeyInit(_Message, frozen=True, tag=3):
    """First message of an in-band handshake (the same bytes as a first handshake record body)."""

    handshake: bytes


class RekeyResponse(_Message, frozen=True, tag=4):
    """Second message of an in-band handshake."""

    handshake: bytes


class RekeyRequest(_Message, frozen=True, tag=5):
    """The responder asks the initiator to start a rekey (its sending volume hit the limit)."""


class Close(_Message, frozen=True, tag=6):
    """The sender ends the session."""

    code: int
    reason: str


class DataView(_Message, frozen=True, tag=0):
    """A received :class:`Data` whose body is a view of the bytes it was decoded from, not a copy
    (the same message on the wire). The view keeps those bytes alive; they never change."""

    body: memoryview


Message = Data | Ping | Pong | RekeyInit | RekeyResponse | RekeyRequest | Close
#: A decoded message whose ``Data`` body is a view (:func:`decode_message_view`).
ReceivedMessage = DataView | Ping | Pong | RekeyInit | RekeyResponse | RekeyRequest | Close
#: Bytes as the messages take them: a piece of a payload, or a view of one.
Bytes = bytes | bytearray | memoryview


class MessageError(ValueError):
    """A record's content is not a well-formed message."""


_encoder = msgspec.msgpack.Encoder()
_M = TypeVar("_M", Message, ReceivedMessage)

_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)
_view_decoder: msgspec.msgpack.Decoder[ReceivedMessage] = msgspec.msgpack.Decoder(ReceivedMessage)
#: A ``Data`` message before its body's bytes: a 2-element array, then the tag 0 (msgspec's
#: array-like encoding of :class:`Data`), then the body's msgpack ``bin`` header.
_DATA_HEAD = b"\x92\x00"


def encode_message(message: Message | ReceivedMessage) -> bytes:
    """Encode a message to its wire bytes."""
    return _encoder.encode(message)


def bin_header(length: int) -> bytes:
    """The msgpack ``bin`` header of ``length`` bytes, in the shortest form (as msgspec writes it)."""
    if length < 0x100:
        return b"\xc4" + length.to_bytes(1, "big")
    if length < 0x10000:
        return b"\xc5" + length.to_bytes(2, "big")
    return b"\xc6" + length.to_bytes(4, "big")


def data_head(length: int) -> bytes:
    """The encoding of ``Data(body)`` up to its body, for a body of ``length`` bytes: with the body
    after it, exactly :func:`encode_message`'s bytes, without copying the body."""
    return _DATA_HEAD + bin_header(length)


def decode_message_view(data: bytes | memoryview) -> ReceivedMessage:
    """Strictly decode one message, a ``Data`` body as a view of ``data`` (:class:`DataView`): the
    caller must not change ``data`` while the view lives. Raises :class:`MessageError`."""
    return _decoded(_view_decoder, data)


def decode_message(data: bytes | memoryview) -> Message:
    """Strictly decode one message. Raises :class:`MessageError`."""
    return _decoded(_decoder, data)


def _decoded(decoder: msgspec.msgpack.Decoder[_M], data: bytes | memoryview) -> _M:
    try:
        message = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise MessageError(str(exc)) from exc
    _check(message)
    return message


def _check(message: Message | ReceivedMessage) -> None:
    if type(message) is Data or type(message) is DataView:
        if len(message.body) > MAX_DATA_LEN:
            raise MessageError("data body too long")
        return
    if isinstance(message, Ping | Pong) and not 0 <= message.id < 2**64:
        raise MessageError("ping id out of range")
    if isinstance(message, Close) and (not 0 <= message.code < 2**16 or len(message.reason) > 1024):
        raise MessageError("close fields out of range")
