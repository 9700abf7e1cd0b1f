"""What a pairing machine reports (:mod:`hotline.proto.pairing`, docs/protocol.md §11): its events and
the kinds of failure, for the station's adapter to act on and word."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hotline.proto.cards import StationCard

__all__ = [
    "PROFILES",
    "CodeConfirmed",
    "FailureKind",
    "LineKeyReceived",
    "PairingDone",
    "PairingEvent",
    "PairingFailed",
    "PeerCardReceived",
    "profile_mismatch_reason",
]


class FailureKind(Enum):
    """Why a pairing failed, for the adapter to word."""

    #: The key confirmation did not match: the two operators have different codes (or an attacker guessed).
    WRONG_CODE = "wrong-code"
    #: The peer sent something that is not this protocol (malformed, unexpected, failed authentication).
    MALFORMED = "malformed"
    #: The peer gave up and said why (an ``Abort`` frame).
    PEER_ABORTED = "peer-aborted"
    #: The connection ended before the pairing did.
    PEER_GONE = "peer-gone"
    #: The exchange did not finish by its deadline.
    TIMEOUT = "timeout"
    #: We gave up (``PairingMachine.abort``).
    ABORTED = "aborted"
    #: The two stations asked for different line profiles; the reason names both.
    PROFILE_MISMATCH = "profile-mismatch"


#: The line profiles a pairing can be for.
PROFILES = ("standard", "cnsa2")


def profile_mismatch_reason(ours: str, theirs: str) -> str:
    """The reason a pairing gives when the two stations asked for different line profiles."""
    return (
        f"the two stations asked for different line profiles: this one {ours}, the other {theirs}; "
        "both operators must pair with the same --profile"
    )


@dataclass(frozen=True, slots=True)
class CodeConfirmed:
    """The peer proved it has the same code; our card is on its way."""


@dataclass(frozen=True, slots=True)
class PeerCardReceived:
    """The peer's card arrived, decrypted, decoded and its signature checked.

    Listener: answer with ``PairingMachine.send_line_key`` or ``PairingMachine.abort``.
    """

    #: The peer station's card; the code vouches that it is the station the operators spoke about.
    card: StationCard


@dataclass(frozen=True, slots=True)
class LineKeyReceived:
    """Dialer: the sealed line key arrived. Open it with the peer's card, store the line, then
    ``PairingMachine.finish`` (or ``PairingMachine.abort``)."""

    #: The sealed line key (docs/protocol.md §8.5), not yet opened.
    sealed: bytes


@dataclass(frozen=True, slots=True)
class PairingDone:
    """Paired: the listener got "done" (store the line now); the dialer sent it."""


@dataclass(frozen=True, slots=True)
class PairingFailed:
    """The pairing is over without a line; close the connection after flushing ``data_to_send``."""

    #: What kind of failure.
    kind: FailureKind
    #: One sentence for the operator.
    reason: str


PairingEvent = CodeConfirmed | PeerCardReceived | LineKeyReceived | PairingDone | PairingFailed
