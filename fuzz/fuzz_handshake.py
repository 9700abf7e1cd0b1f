"""Fuzz target ``handshake``: a responder :class:`Session` fed arbitrary bytes.

Input: ``flags:u8 || cut:u8 || stream``. A fresh responder (BRAVO, with a fresh timestamp guard)
receives ``stream`` in ``cut``-byte pieces and we collect what it writes after each one. Flags:

* bit 0: recompute the mac1 of an initiation-shaped first record, as anyone holding BRAVO's card
  can, so mutations reach the Noise and KEM code behind the cheap check;
* bit 1: BRAVO does not know ALPHA (its peer directory is empty);
* bit 2: end with end of stream, ``receive_data(b"")``;
* bit 3: end with the handshake deadline, ``handle_timer``.

Contract (docs/protocol.md §4, style "before authentication, drop silently"):

* ``receive_data`` and ``handle_timer`` raise nothing at all;
* the responder writes nothing, unless the first record is the genuine initiation from a known
  peer (ALPHA's, byte for byte in its Noise part), and then only one handshake response record;
* no handshake completes and no data arrives (nobody here holds the initiator's keys), and the only
  events are the ends we caused: end of stream or the deadline;
* the state stays one of the pre-authentication states, or closed.
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from fuzz import fixtures
    from hotline.proto.constants import HANDSHAKE_TIMEOUT
    from hotline.proto.errors import ErrorCode
    from hotline.proto.events import SessionTerminated
    from hotline.proto.handshake import (
        INIT_LEN,
        NOISE_INIT_LEN,
        RESPONSE_LEN,
        PeerTable,
        mac1,
        mac1_key,
    )
    from hotline.proto.records import RecordType
    from hotline.proto.replay import TimestampGuard
    from hotline.proto.session import Session, SessionConfig
    from hotline.proto.states import SessionState

_CONFIG = SessionConfig(static=fixtures.BRAVO.static_key)
_MAC_KEY = mac1_key(fixtures.BRAVO.static_key.public_key().raw)
_ALPHA_PUBLIC = fixtures.ALPHA.static_key.public_key().raw
_GENUINE = fixtures.genuine_noise_message()
_INIT_HEADER = (INIT_LEN + 1).to_bytes(2, "big") + bytes([RecordType.HANDSHAKE_INIT])
_RESPONSE_HEADER = (RESPONSE_LEN + 1).to_bytes(2, "big") + bytes([RecordType.HANDSHAKE_RESPONSE])
_QUIET = (SessionState.AWAIT_INITIATION, SessionState.AWAIT_CONFIRMATION, SessionState.DROPPED)
_ENDS = {ErrorCode.CONNECTION_LOST, ErrorCode.HANDSHAKE_TIMEOUT}


def _fix_mac1(stream: bytes) -> bytes:
    if not stream.startswith(_INIT_HEADER) or len(stream) < len(_INIT_HEADER) + INIT_LEN:
        return stream
    start = len(_INIT_HEADER)
    noise = stream[start : start + NOISE_INIT_LEN]
    return stream[: start + NOISE_INIT_LEN] + mac1(_MAC_KEY, noise) + stream[start + INIT_LEN :]


def _genuine_first_record(stream: bytes) -> bool:
    start = len(_INIT_HEADER)
    return (
        stream.startswith(_INIT_HEADER)
        and len(stream) >= start + INIT_LEN
        and stream[start : start + NOISE_INIT_LEN] == _GENUINE
    )


def test_one_input(data: bytes) -> None:
    """Check the responder's contract on one input (see the module docstring)."""
    if len(data) < 2:
        return
    flags, cut, stream = data[0], data[1] + 1, data[2:]
    if flags & 1:
        stream = _fix_mac1(stream)
    knows_alpha = not flags & 2
    peers = PeerTable({_ALPHA_PUBLIC: fixtures.LINE_KEY} if knows_alpha else {})
    session = Session.responder(_CONFIG, peers=peers, guard=TimestampGuard(), now=0.0)

    written = bytearray()
    for i in range(0, len(stream), cut):
        session.receive_data(stream[i : i + cut], 1.0)
        written += session.data_to_send()
    if flags & 4:
        session.receive_data(b"", 2.0)
    if flags & 8:
        session.handle_timer(HANDSHAKE_TIMEOUT)
    written += session.data_to_send()

    if written:
        assert knows_alpha and _genuine_first_record(stream), "the responder answered an unauthenticated peer"
        assert len(written) == len(_RESPONSE_HEADER) + RESPONSE_LEN and written.startswith(_RESPONSE_HEADER)
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    for event in events:
        assert isinstance(event, SessionTerminated), f"unexpected event {event!r}"
        assert event.code in _ENDS and not event.by_peer
    assert len(events) <= 1
    if events:
        assert session.state is SessionState.CLOSED
    else:
        assert session.state in _QUIET
    assert session.peer_static is None


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
