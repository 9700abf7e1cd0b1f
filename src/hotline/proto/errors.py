"""Exceptions of the sans-IO core and the wire error codes (docs/protocol.md §6).

Strategy (after h11's ``_util.py``): inside the state machine we raise; at the receive boundary,
errors before authentication are swallowed (the input is dropped, nothing is answered) and errors
after it become a :class:`~hotline.proto.events.SessionTerminated` event carrying an
:class:`ErrorCode`. Only the CLI turns exceptions into wording and exit codes.
"""

from enum import IntEnum


class ErrorCode(IntEnum):
    """Why a session ended. Sent to the peer in a ``Close`` message when it is authenticated."""

    #: An orderly close.
    NO_ERROR = 0
    #: The peer sent something the protocol does not allow in this state.
    PROTOCOL_VIOLATION = 1
    #: A transport record failed authentication.
    DECRYPT_FAILED = 2
    #: The handshake failed (wrong keys, tampered message, wrong line key).
    HANDSHAKE_FAILED = 3
    #: The handshake did not finish in time.
    HANDSHAKE_TIMEOUT = 4
    #: Nothing arrived for several keepalive intervals.
    IDLE_TIMEOUT = 5
    #: Keys reached their age or volume limit without a successful rekey.
    KEY_EXPIRED = 6
    #: A message larger than the protocol allows.
    MESSAGE_TOO_LARGE = 7
    #: The connection closed underneath the session.
    CONNECTION_LOST = 8
    #: The local application closed the session.
    LOCAL_CLOSE = 9
    #: The peer made us rekey faster than the rate limit allows (docs/protocol.md §5.4).
    RATE_LIMITED = 10


class HotlineError(Exception):
    """Base of every Hotline exception."""


class ProtocolError(HotlineError):
    """A protocol rule was broken; carries the :class:`ErrorCode` to report."""

    def __init__(self, msg: str, code: ErrorCode = ErrorCode.PROTOCOL_VIOLATION) -> None:
        super().__init__(msg)
        self.code = code


class LocalProtocolError(ProtocolError):
    """The application asked for something the session cannot do in its state."""


class RemoteProtocolError(ProtocolError):
    """The authenticated peer broke the protocol."""
