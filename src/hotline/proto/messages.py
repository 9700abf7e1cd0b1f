"""Wire messages carried inside transport records (docs/protocol.md §5.3).

One msgspec Struct per message, encoded as a msgpack array with an integer tag first. Decoding is
strict: unknown tags, wrong types, extra or missing fields all fail with :class:`MessageError`.
"""

from __future__ import annotations

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


Message = Data | Ping | Pong | RekeyInit | RekeyResponse | RekeyRequest | Close


class MessageError(ValueError):
    """A record's content is not a well-formed message."""


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


def encode_message(message: Message) -> bytes:
    """Encode a message to its wire bytes."""
    return _encoder.encode(message)


def decode_message(data: bytes | memoryview) -> Message:
    """Strictly decode one message. Raises :class:`MessageError`."""
    try:
        message = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise MessageError(str(exc)) from exc
    _check(message)
    return message


def _check(message: Message) -> None:
    if type(message) is Data:
        if len(message.body) > MAX_DATA_LEN:
            raise MessageError("data body too long")
        return
    if isinstance(message, Ping | Pong) and not 0 <= message.id < 2**64:
        raise MessageError("ping id out of range")
    if isinstance(message, Close) and (not 0 <= message.code < 2**16 or len(message.reason) > 1024):
        raise MessageError("close fields out of range")
