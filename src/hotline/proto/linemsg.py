"""Station-to-station messages carried over a session's message stream (docs/protocol.md §10).

A session gives each direction an ordered, authenticated stream of byte strings; the station puts
one of these structs in each. They are what makes the teletype reliable: every operator message and
every acknowledgement is an :class:`Entry` with a per-direction sequence number and hash-chain head,
and :class:`Receipt` tells the sender what is durably stored at the far end.

Decoding is strict (msgspec, array-like with an integer tag): a peer that sends anything else broke
the protocol, and the station ends the session.
"""

from __future__ import annotations

import enum

import msgspec

#: Upper bound on an entry's text, in bytes (UTF-8); documents travel another way.
MAX_TEXT_LEN = 64 * 1024
#: Message ids are 10 random bytes, shown as 16 base32 characters.
MESSAGE_ID_LEN = 10
CHAIN_LEN = 32


class Kind(enum.IntEnum):
    """What an :class:`Entry` carries."""

    #: An operator's text message.
    TEXT = 0
    #: The operator read the message ``ref``.
    ACK = 1
    #: A line test; ``body`` holds a :class:`TestProbe`.
    TEST = 2
    #: The answer to the test ``ref``; ``body`` holds a :class:`TestProbe`.
    TEST_REPLY = 3


class Precedence(enum.IntEnum):
    """Military message precedence: lower goes first."""

    FLASH = 0
    IMMEDIATE = 1
    PRIORITY = 2
    ROUTINE = 3


class _LineMessage(msgspec.Struct, frozen=True, array_like=True, tag_field="t", forbid_unknown_fields=True):
    pass


class Hello(_LineMessage, frozen=True, tag=0):
    """First message each way on a new session: where our inbound stream stands.

    The peer resends every entry after ``received_seq``; ``received_head`` lets it check that we hold
    what it sent (the chain head at that sequence number).
    """

    received_seq: int
    received_head: bytes
    #: How many entries we have ever put in our outbound stream (a peer that holds more is ahead of us).
    sent_seq: int


class Entry(_LineMessage, frozen=True, tag=1):
    """One durable, sequenced item of a line's transcript in one direction."""

    seq: int
    id: bytes
    kind: int
    precedence: int
    #: Milliseconds since the epoch, when the sender's operator queued it.
    created_ms: int
    #: The id of the entry this one refers to (ACK, TEST_REPLY), else empty.
    ref: bytes
    body: bytes
    #: The sender's hash-chain head after this entry (see :func:`hotline.proto.delivery.chain_next`).
    chain: bytes


class Receipt(_LineMessage, frozen=True, tag=2):
    """Everything up to ``seq`` is stored at the receiver, whose chain head there is ``head``."""

    seq: int
    head: bytes


class TestProbe(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The body of TEST and TEST_REPLY entries: the sender's view of the other direction."""

    __test__ = False  # not a pytest test class, whatever its name says

    received_seq: int
    received_head: bytes


LineMessage = Hello | Entry | Receipt

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(LineMessage)
_PROBE_DECODER = msgspec.msgpack.Decoder(TestProbe)


class LineMessageError(ValueError):
    """The peer sent something that is not a well-formed line message."""


def encode(message: LineMessage | TestProbe) -> bytes:
    """The wire bytes of ``message``."""
    return _ENCODER.encode(message)


def decode(data: bytes) -> LineMessage:
    """Parse and check one line message.

    Raises:
        LineMessageError: malformed, or a field out of range.
    """
    try:
        message: LineMessage = _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise LineMessageError(f"malformed line message: {exc}") from None
    problem = _problem(message)
    if problem is not None:
        raise LineMessageError(problem)
    return message


def decode_probe(data: bytes) -> TestProbe:
    """Parse a test entry's body.

    Raises:
        LineMessageError: malformed.
    """
    try:
        probe = _PROBE_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise LineMessageError(f"malformed test probe: {exc}") from None
    if probe.received_seq < 0 or len(probe.received_head) != CHAIN_LEN:
        raise LineMessageError("test probe out of range")
    return probe


def _problem(message: LineMessage) -> str | None:
    match message:
        case Hello(received_seq, received_head, sent_seq):
            if received_seq < 0 or sent_seq < 0 or len(received_head) != CHAIN_LEN:
                return "hello out of range"
        case Receipt(seq, head):
            if seq < 0 or len(head) != CHAIN_LEN:
                return "receipt out of range"
        case Entry():
            if message.seq < 1 or len(message.id) != MESSAGE_ID_LEN or len(message.chain) != CHAIN_LEN:
                return "entry header out of range"
            if message.kind not in Kind._value2member_map_:
                return f"unknown entry kind {message.kind}"
            if message.precedence not in Precedence._value2member_map_:
                return f"unknown precedence {message.precedence}"
            if message.ref and len(message.ref) != MESSAGE_ID_LEN:
                return "entry reference has the wrong length"
            if len(message.body) > MAX_TEXT_LEN:
                return "entry body too long"
            if message.created_ms < 0:
                return "entry creation time out of range"
    return None


__all__ = [
    "CHAIN_LEN",
    "MAX_TEXT_LEN",
    "MESSAGE_ID_LEN",
    "Entry",
    "Hello",
    "Kind",
    "LineMessage",
    "LineMessageError",
    "Precedence",
    "Receipt",
    "TestProbe",
    "decode",
    "decode_probe",
    "encode",
]
