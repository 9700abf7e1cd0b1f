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

from hotline.proto.carrier import Lane
from hotline.proto.document import CHUNK, DOC_ID_LEN, MAX_SIZE, DocState
from hotline.proto.messages import bin_header

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
    #: A document; ``body`` holds a :class:`hotline.proto.document.DocMeta`, its bytes follow as
    #: :class:`DocData`.
    DOC = 4


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


class CallOffer(_LineMessage, frozen=True, tag=3):
    """Ring the far end: a new call ``call_id`` (docs/protocol.md §12)."""

    call_id: bytes
    #: Where the caller receives media: the receiver index its media packets must carry.
    index: int
    #: The media format, ``"opus/48000/1/20"``; a callee that cannot play it declines.
    codec: str
    #: SHA-256 commitment to the caller's fresh X25519 key, revealed by :class:`CallReveal`.
    commitment: bytes
    #: The caller's fresh ML-KEM-768 public key for this call.
    kem_public: bytes


class CallAnswer(_LineMessage, frozen=True, tag=4):
    """The callee picked up."""

    call_id: bytes


class CallSignal(_LineMessage, frozen=True, tag=5):
    """Every other call signal: ringing, busy, hang-up and the like (:class:`Signal`)."""

    call_id: bytes
    signal: int


class CallMedia(_LineMessage, frozen=True, tag=6):
    """One sealed media packet carried inside the session when UDP does not pass."""

    packet: bytes


class DocData(_LineMessage, frozen=True, tag=7):
    """One chunk of a document's bytes (docs/protocol.md §13).

    Decoded, ``data`` is a view of the bytes the message was decoded from (no copy of the chunk);
    it keeps them alive, and they never change.
    """

    doc_id: bytes
    offset: int
    data: memoryview


class DocProgress(_LineMessage, frozen=True, tag=8):
    """The receiver holds the document's first ``stored`` bytes on disk; ``state`` says what next."""

    doc_id: bytes
    stored: int
    state: int


class CallRinging(_LineMessage, frozen=True, tag=9):
    """The offer rings: the callee's receiver index and its share of the call's key exchange."""

    call_id: bytes
    #: Where the callee receives media.
    index: int
    #: The callee's fresh X25519 public key.
    dh_public: bytes
    #: ML-KEM-768 ciphertext encapsulated to the offer's key.
    kem_ciphertext: bytes


class CallReveal(_LineMessage, frozen=True, tag=10):
    """The caller opens its commitment: the X25519 key it committed to in the offer."""

    call_id: bytes
    dh_public: bytes


class Withhold(_LineMessage, frozen=True, tag=11):
    """The receiver stores none of our entries after ``held_seq`` for now (F5, docs/protocol.md §10.3).

    ``reason`` is a :class:`HoldReason`; the sender keeps the entries, sends none until
    ``retry_after`` seconds have passed or a ``Withhold`` with reason RESUME comes, then resends from
    ``held_seq + 1`` in order.
    """

    held_seq: int
    reason: int
    retry_after: int


class HoldReason(enum.IntEnum):
    """Why a :class:`Withhold` was sent."""

    #: The receiver takes entries again: send from ``held_seq + 1`` now.
    RESUME = 0
    #: The line passed its entries-per-hour quota.
    RATE = 1
    #: The line passed its quota of stored bytes.
    SPACE = 2
    #: The receiver's disk is down to the free space it keeps for others.
    DISK = 3


#: The longest a :class:`Withhold` may ask the sender to wait, in seconds.
MAX_RETRY_AFTER = 3600


class Signal(enum.IntEnum):
    """What a :class:`CallSignal` says."""

    # 0 was RINGING before calls had their own key exchange (now :class:`CallRinging`)
    BUSY = 1
    DECLINED = 2
    HANGUP = 3
    NO_ANSWER = 4
    SAS_MISMATCH = 5
    #: No media came over UDP in time: both ends carry it in the session from now on.
    USE_SESSION = 6
    #: The sender cannot go on with the call (its audio failed, say).
    FAILED = 7
    #: The caller's reveal did not match its commitment (or a key share did not check).
    BAD_KEYS = 8


#: Call ids are 16 random bytes.
CALL_ID_LEN = 16
#: Sizes of a call's key exchange fields: commitment, X25519, ML-KEM-768 public key and ciphertext
#: (a ``standard`` line's; docs/protocol.md §12.2).
CALL_COMMITMENT_LEN = 32
CALL_DH_LEN = 32
CALL_KEM_PUBLIC_LEN = 1184
CALL_KEM_CIPHERTEXT_LEN = 1088
#: The ML-KEM public key and ciphertext sizes of every line profile (ML-KEM-768, ML-KEM-1024):
#: which one a call uses is the line's, checked when the exchange runs.
CALL_KEM_PUBLIC_LENS = frozenset({CALL_KEM_PUBLIC_LEN, 1568})
CALL_KEM_CIPHERTEXT_LENS = frozenset({CALL_KEM_CIPHERTEXT_LEN, 1568})
#: A sealed media packet is never longer than this.
MAX_MEDIA_PACKET = 1200

LineMessage = (
    Hello
    | Entry
    | Receipt
    | CallOffer
    | CallAnswer
    | CallSignal
    | CallMedia
    | DocData
    | DocProgress
    | CallRinging
    | CallReveal
    | Withhold
)

_DOC_STATES = frozenset(int(s) for s in DocState)
_EMPTY_BIN = bin_header(0)
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(LineMessage)
_PROBE_DECODER = msgspec.msgpack.Decoder(TestProbe)


def carrier_lane(message: LineMessage) -> Lane:
    """The lane of carrier mode that carries ``message`` (docs/protocol.md §14.2). An entry of
    precedence FLASH is given :attr:`Lane.FLASH` here; the sender still puts it in MESSAGES while
    that lane holds an entry (§14.3)."""
    if isinstance(message, Entry):
        return Lane.FLASH if message.precedence == Precedence.FLASH else Lane.MESSAGES
    if isinstance(message, DocData):
        return Lane.DOCUMENTS
    if isinstance(message, (CallOffer, CallRinging, CallReveal, CallAnswer, CallSignal, CallMedia)):
        return Lane.VOICE
    return Lane.CONTROL  # Hello, Receipt, Withhold, DocProgress


class LineMessageError(ValueError):
    """The peer sent something that is not a well-formed line message."""


def encode(message: LineMessage | TestProbe) -> bytes:
    """The wire bytes of ``message``."""
    return _ENCODER.encode(message)


def doc_data_head(doc_id: bytes, offset: int, length: int) -> bytes:
    """The encoding of ``DocData(doc_id, offset, data)`` up to its data, for ``length`` bytes of
    data: with the data after it, exactly :func:`encode`'s bytes, without copying the chunk."""
    empty = _ENCODER.encode(DocData(doc_id, offset, memoryview(b"")))
    return empty[: -len(_EMPTY_BIN)] + bin_header(length)


def decode(data: bytes | memoryview) -> LineMessage:
    """Parse and check one line message.

    Raises:
        LineMessageError: malformed, or a field out of range.
    """
    try:
        message: LineMessage = _DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
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
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
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
        case CallOffer(call_id, index, codec, commitment, kem_public):
            if len(call_id) != CALL_ID_LEN or not 0 < index < 2**32 or len(codec) > 64:
                return "call offer out of range"
            if len(commitment) != CALL_COMMITMENT_LEN or len(kem_public) not in CALL_KEM_PUBLIC_LENS:
                return "call offer keys out of range"
        case CallAnswer(call_id):
            if len(call_id) != CALL_ID_LEN:
                return "call answer out of range"
        case CallRinging(call_id, index, dh_public, kem_ciphertext):
            if len(call_id) != CALL_ID_LEN or not 0 < index < 2**32 or len(dh_public) != CALL_DH_LEN:
                return "call ringing out of range"
            if len(kem_ciphertext) not in CALL_KEM_CIPHERTEXT_LENS:
                return "call ringing keys out of range"
        case CallReveal(call_id, dh_public):
            if len(call_id) != CALL_ID_LEN or len(dh_public) != CALL_DH_LEN:
                return "call reveal out of range"
        case CallSignal(call_id, signal):
            if len(call_id) != CALL_ID_LEN or signal not in Signal._value2member_map_:
                return "call signal out of range"
        case DocData(doc_id, offset, data):
            if len(doc_id) != DOC_ID_LEN or offset < 0 or offset % CHUNK or not 0 < len(data) <= CHUNK:
                return "document chunk out of range"
        case DocProgress(doc_id, stored, state):
            if len(doc_id) != DOC_ID_LEN or not 0 <= stored <= MAX_SIZE or state not in _DOC_STATES:
                return "document progress out of range"
        case Withhold(held_seq, reason, retry_after):
            if held_seq < 0 or reason not in HoldReason._value2member_map_:
                return "withhold out of range"
            if not 0 <= retry_after <= MAX_RETRY_AFTER:
                return "withhold retry time out of range"
        case CallMedia(packet):
            if len(packet) > MAX_MEDIA_PACKET:
                return "media packet too long"
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
    "CALL_ID_LEN",
    "CHAIN_LEN",
    "MAX_MEDIA_PACKET",
    "MAX_RETRY_AFTER",
    "MAX_TEXT_LEN",
    "MESSAGE_ID_LEN",
    "CallAnswer",
    "CallMedia",
    "CallOffer",
    "CallReveal",
    "CallRinging",
    "CallSignal",
    "DocData",
    "DocProgress",
    "Entry",
    "Hello",
    "HoldReason",
    "Kind",
    "LineMessage",
    "LineMessageError",
    "Precedence",
    "Receipt",
    "Signal",
    "TestProbe",
    "Withhold",
    "carrier_lane",
    "decode",
    "decode_probe",
    "doc_data_head",
    "encode",
]
