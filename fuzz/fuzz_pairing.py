"""Fuzz target ``pairing``: a :class:`PairingMachine` fed arbitrary frames.

Input: ``flags:u8 || cut:u8 || stream``. A machine (listener BRAVO, or dialer ALPHA with flag bit 0)
with the fixed code and reproducible entropy receives ``stream`` in ``cut``-byte pieces. Its
application answers the way :mod:`hotline.station.pairing` does: the listener sends a line key for
the card it gets, the dialer finishes once it has the line key; with bit 1 both abort instead. Bit 2
ends with end of stream, bit 3 with the exchange deadline. With bit 4 the pieces are whole frames,
as far as their length prefixes say, so the application answers between two frames as it would
between two reads (a genuine DONE must not arrive before the line key went out). The corpus holds
the genuine peer's side of a whole exchange (``make_corpus.py`` uses the same code and entropy), so
mutations reach the sealed frames.

Contract (the module's own rules, docs/protocol.md §11):

* ``receive_data`` and ``handle_timer`` never raise; a failure is one :class:`PairingFailed`, last;
* nothing but PAKE and CONFIRM frames goes out before the peer's confirmation checked
  (:class:`CodeConfirmed`), and every frame that goes out is well formed;
* a card reported to the application is a valid, correctly signed card;
* once finished, the machine is in a terminal state and says nothing more.
"""

from __future__ import annotations

import copy
import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from fuzz import fixtures
    from hotline.proto.pairing import (
        MAX_FRAME,
        CodeConfirmed,
        FrameType,
        LineKeyReceived,
        PairingDone,
        PairingEvent,
        PairingFailed,
        PairingMachine,
        PeerCardReceived,
        Role,
    )

#: What the fuzzed listener's application sends as the line key; the machine does not look inside.
SEALED = b"sealed line key " * 8
_EARLY = {FrameType.PAKE, FrameType.CONFIRM}


def machine(role: Role) -> PairingMachine:
    """A fresh machine for ``role`` with the fixed code, card and entropy (also what the corpus is for)."""
    me = fixtures.BRAVO if role is Role.LISTENER else fixtures.ALPHA
    return PairingMachine(
        role,
        fixtures.PAIRING_CODE,
        card=fixtures.card(me),
        now=0.0,
        entropy=fixtures.entropy(f"pairing {role.value}"),
    )


# building a machine hashes the code to the curve: start each input from a copy of one that did
_TEMPLATES: dict[Role, PairingMachine] = {}


def _fresh(role: Role) -> PairingMachine:
    if role not in _TEMPLATES:
        _TEMPLATES[role] = machine(role)
    return copy.deepcopy(_TEMPLATES[role])


def _frame_types(out: bytes) -> list[FrameType]:
    types = []
    while out:
        size = int.from_bytes(out[:4], "big")
        assert 1 <= size <= MAX_FRAME and len(out) >= 4 + size, "the machine wrote a malformed frame"
        types.append(FrameType(out[4]))
        out = out[4 + size :]
    return types


def _answer(m: PairingMachine, event: PairingEvent, role: Role, *, refuse: bool) -> None:
    """Play the station's application: answer a card with a line key, a line key with "done".

    A later event of the same batch may already have failed the machine (a card and a malformed
    frame in one read); then there is nothing left to answer.
    """
    if isinstance(event, PeerCardReceived):
        event.card.verify()
        if m.finished:
            return
        if role is Role.LISTENER and refuse:
            m.abort("refused")
        elif role is Role.LISTENER:
            m.send_line_key(SEALED)
    elif isinstance(event, LineKeyReceived):
        assert role is Role.DIALER
        if m.finished:
            return
        if refuse:
            m.abort("refused")
        else:
            m.finish()
    else:
        assert isinstance(event, CodeConfirmed | PairingDone | PairingFailed)


def _frames(stream: bytes) -> list[bytes]:
    pieces = []
    while stream:
        end = 4 + int.from_bytes(stream[:4], "big")
        pieces.append(stream[:end])
        stream = stream[end:]
    return pieces


def test_one_input(data: bytes) -> None:
    """Check the pairing machine's contract on one input (see the module docstring)."""
    if len(data) < 2:
        return
    flags, cut, stream = data[0], data[1] + 1, data[2:]
    role = Role.DIALER if flags & 1 else Role.LISTENER
    m = _fresh(role)
    confirmed = False
    events: list[PairingEvent] = []

    def settle() -> None:
        nonlocal confirmed
        while True:
            new: list[PairingEvent] = []
            while (event := m.next_event()) is not None:
                assert not events or not isinstance(events[-1], PairingFailed), "an event after the failure"
                events.append(event)
                new.append(event)
            confirmed = confirmed or any(isinstance(event, CodeConfirmed) for event in new)
            for kind in _frame_types(m.data_to_send()):
                assert confirmed or kind in _EARLY, f"{kind.name} went out before the code was confirmed"
            if not new:
                return
            for event in new:
                _answer(m, event, role, refuse=bool(flags & 2))

    pieces = _frames(stream) if flags & 16 else [stream[i : i + cut] for i in range(0, len(stream), cut)]
    for piece in pieces:
        m.receive_data(piece)
        settle()
    if flags & 4:
        m.receive_data(b"")
    if flags & 8:
        m.handle_timer(fixtures.CARD_TIME)
    settle()
    if m.finished:
        assert m.get_timer() is None and m.data_to_send() == b""
        assert events and isinstance(events[-1], PairingDone | PairingFailed)
    assert sum(isinstance(e, PairingDone | PairingFailed) for e in events) <= 1


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
