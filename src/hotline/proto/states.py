"""Session states and the one transition table (docs/protocol.md §4).

Rule 1 (after h11 ``_state.py``): every change of :class:`SessionState` goes through
:func:`transition`, and the table below is the whole list of allowed changes. Rekeys do not appear
here: they happen inside ``ESTABLISHED`` and never stop records from flowing.
"""

from __future__ import annotations

from enum import Enum


class SessionState(Enum):
    """Where a session is."""

    #: Responder: waiting for the first handshake message.
    AWAIT_INITIATION = "await-initiation"
    #: Responder: response sent; the initiator has proven its static key but not yet the line key.
    #: The first transport record that authenticates confirms it.
    AWAIT_CONFIRMATION = "await-confirmation"
    #: Initiator: first message sent, waiting for the response.
    AWAIT_RESPONSE = "await-response"
    #: Authenticated; transport records flow both ways.
    ESTABLISHED = "established"
    #: Responder: unauthenticated input was seen; ignore everything until the deadline. No reply.
    DROPPED = "dropped"
    #: Over. Terminal.
    CLOSED = "closed"


class Trigger(Enum):
    """What moves a session."""

    #: Responder: a valid first message arrived and was answered.
    RESPONDED = "responded"
    #: The peer proved every key: a valid response (initiator) or a first valid record (responder).
    AUTHENTICATED = "authenticated"
    #: Input before authentication did not check out.
    UNAUTHENTICATED_INPUT = "unauthenticated-input"
    #: The session ends (error, timeout, close, EOF).
    TERMINATE = "terminate"


S, T = SessionState, Trigger

#: (state, trigger) -> next state. Anything not listed is a bug in the caller.
TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (S.AWAIT_INITIATION, T.RESPONDED): S.AWAIT_CONFIRMATION,
    (S.AWAIT_INITIATION, T.UNAUTHENTICATED_INPUT): S.DROPPED,
    (S.AWAIT_INITIATION, T.TERMINATE): S.CLOSED,
    (S.AWAIT_CONFIRMATION, T.AUTHENTICATED): S.ESTABLISHED,
    (S.AWAIT_CONFIRMATION, T.UNAUTHENTICATED_INPUT): S.DROPPED,
    (S.AWAIT_CONFIRMATION, T.TERMINATE): S.CLOSED,
    (S.AWAIT_RESPONSE, T.AUTHENTICATED): S.ESTABLISHED,
    # an initiator that gets a bad response ends the attempt: it has no one to stay silent for
    (S.AWAIT_RESPONSE, T.UNAUTHENTICATED_INPUT): S.CLOSED,
    (S.AWAIT_RESPONSE, T.TERMINATE): S.CLOSED,
    (S.ESTABLISHED, T.TERMINATE): S.CLOSED,
    (S.DROPPED, T.UNAUTHENTICATED_INPUT): S.DROPPED,
    (S.DROPPED, T.TERMINATE): S.CLOSED,
}


def transition(state: SessionState, trigger: Trigger) -> SessionState:
    """The state after ``trigger`` in ``state``. Raises :class:`KeyError` for a move not in the table."""
    return TRANSITIONS[(state, trigger)]
