"""The responder's defences in the Session, driven in memory (issue 13: F8, F12, B4).

F8: the anti-replay guard is raised only when the initiator proves the line key, and a copy of an
initiation still awaiting confirmation is not answered. F12: handshakes beyond the per-peer and
per-address limits get no answer and cost no response work; rekeys beyond the session's limit end
the session with ``RATE_LIMITED``. B4: even the first rekey must be newer than the initiation that
opened the session.
"""

from __future__ import annotations

import pytest

from hotline.crypto.mlkem import MLKEM768PublicKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.errors import ErrorCode
from hotline.proto.events import RekeyCompleted, SessionTerminated
from hotline.proto.messages import RekeyRequest
from hotline.proto.ratelimit import HandshakeLimits, KeyedBuckets
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session
from hotline.proto.states import SessionState
from tests.support.pair import WALL_NS, SessionPair


def established(**config: object) -> SessionPair:
    pair = SessionPair(**config)
    pair.roundtrip_until_idle()
    assert pair.r.state is SessionState.ESTABLISHED
    return pair


def _dial(pair: SessionPair, wall_time_ns: int, *, line_key: bytes | None = None) -> Session:
    """A new initiator session from ``pair``'s station ``a`` (its first record not yet read)."""
    return Session.initiator(
        pair.ca,
        peer_static=pair.b.public,
        line_key=pair.line_key if line_key is None else line_key,
        now=pair.now,
        wall_time_ns=wall_time_ns,
    )


def _answer(pair: SessionPair, wire: bytes, **kwargs: object) -> tuple[Session, bytes]:
    r = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now, **kwargs)  # type: ignore[arg-type]
    r.receive_data(wire, pair.now)
    return r, bytes(r.data_to_send())


def test_an_initiation_that_never_confirms_does_not_raise_the_guard() -> None:
    """F8: someone with the peer's static key but not the line key (or a replay cut short) sends an
    initiation dated far ahead. It is answered (the responder cannot know yet), but it never
    confirms, so the genuine peer's next initiation, dated earlier, is still answered and works."""
    pair = established()
    assert pair.b.guard.latest[pair.a.public] == WALL_NS
    forged = _dial(pair, WALL_NS + 3600 * 10**9, line_key=bytes(32))  # wrong line key
    r, response = _answer(pair, bytes(forged.data_to_send()))
    assert response  # answered: the line key is only proven by the first transport record
    forged.receive_data(response, pair.now)  # the forger cannot open it, so it confirms nothing
    assert forged.state is SessionState.CLOSED
    assert r.state is SessionState.AWAIT_CONFIRMATION
    assert pair.b.guard.latest[pair.a.public] == WALL_NS  # not raised
    genuine = _dial(pair, WALL_NS + 10**9)  # smaller than the forged one, greater than the last
    r2, response2 = _answer(pair, bytes(genuine.data_to_send()))
    genuine.receive_data(response2, pair.now)
    r2.receive_data(genuine.data_to_send(), pair.now)
    assert genuine.state is SessionState.ESTABLISHED and r2.state is SessionState.ESTABLISHED
    assert pair.b.guard.latest[pair.a.public] == WALL_NS + 10**9


def test_a_copy_of_an_initiation_awaiting_confirmation_gets_no_answer() -> None:
    """F8: an initiation in flight, copied by someone on the path, is answered once only: the
    genuine initiator never repeats a timestamp, so a second copy is a recording."""
    pair = SessionPair()
    wire = bytes(pair.i.data_to_send())
    first, answer = _answer(pair, wire)
    assert answer
    copy, nothing = _answer(pair, wire)
    assert nothing == b"" and copy.state is SessionState.DROPPED
    assert pair.b.peers.replays == {pair.a.public: 1}
    pair.i.receive_data(answer, pair.now)  # the genuine one still completes
    first.receive_data(pair.i.data_to_send(), pair.now)
    assert first.state is SessionState.ESTABLISHED


def test_a_guard_restored_from_storage_drops_a_recording() -> None:
    """F8: a station restarted with its stored guard does not answer an initiation it confirmed
    before the restart (the station persists ``on_raise``; this is the guard's half)."""
    stored: dict[bytes, int] = {}
    pair = SessionPair()
    pair.b.guard = TimestampGuard(on_raise=stored.__setitem__)
    pair.r = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=0.0)
    wire = bytes(pair.i.data_to_send())
    pair.r.receive_data(wire, pair.now)
    assert stored == {}  # answered, not confirmed: nothing to persist yet
    pair.i.receive_data(pair.r.data_to_send(), pair.now)
    pair.r.receive_data(pair.i.data_to_send(), pair.now)
    assert stored == {pair.a.public: WALL_NS}
    pair.b.guard = TimestampGuard(dict(stored))  # the restart
    r, response = _answer(pair, wire)
    assert response == b"" and r.state is SessionState.DROPPED


def test_initiations_over_the_per_peer_limit_get_no_answer_and_no_response_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F12: an authenticated peer's initiations beyond its budget are dropped silently, before the
    response's key generation and KEM encapsulation."""
    pair = SessionPair()
    limits = HandshakeLimits(peer_rate=1.0, peer_burst=2)
    encapsulations = 0
    real = MLKEM768PublicKey.encapsulate

    def counting(self: MLKEM768PublicKey) -> tuple[bytes, bytes]:
        nonlocal encapsulations
        encapsulations += 1
        return real(self)

    monkeypatch.setattr(MLKEM768PublicKey, "encapsulate", counting)
    answers = [
        bool(_answer(pair, bytes(_dial(pair, WALL_NS + n).data_to_send()), limits=limits)[1])
        for n in range(5)
    ]
    assert answers == [True, True, False, False, False]
    assert encapsulations == 2
    assert limits.dropped_by_peer == {pair.a.public: 3}
    pair.now += 1.0  # the bucket refills at its rate
    assert _answer(pair, bytes(_dial(pair, WALL_NS + 10).data_to_send()), limits=limits)[1]


def test_initiations_over_the_per_address_limit_cost_no_dh(monkeypatch: pytest.MonkeyPatch) -> None:
    """F12: past the per-address budget an initiation is dropped after mac1, before any DH."""
    pair = SessionPair()
    limits = HandshakeLimits(source_rate=1.0, source_burst=1)
    wires = [bytes(_dial(pair, WALL_NS + n).data_to_send()) for n in range(3)]
    exchanges = 0
    real = X25519PrivateKey.exchange

    def counting(self: X25519PrivateKey, peer: object) -> bytes:
        nonlocal exchanges
        exchanges += 1
        return real(self, peer)  # type: ignore[arg-type]

    monkeypatch.setattr(X25519PrivateKey, "exchange", counting)
    assert _answer(pair, wires[0], limits=limits, source="198.51.100.7")[1]
    spent = exchanges
    for wire in wires[1:]:
        r, response = _answer(pair, wire, limits=limits, source="198.51.100.7")
        assert response == b"" and r.state is SessionState.DROPPED
    assert exchanges == spent  # nothing more
    assert limits.dropped_by_source == 2
    assert _answer(pair, wires[1], limits=limits, source="198.51.100.8")[1]  # another address


def _force_rekeys(pair: SessionPair, count: int) -> None:
    """The initiator starts ``count`` rekeys back to back, each as soon as the last finished (one
    per round trip), all at one instant."""
    for _ in range(count):
        if pair.i.state is not SessionState.ESTABLISHED or pair.r.state is not SessionState.ESTABLISHED:
            return
        pair.i._rekeying.start(pair.now)  # what a hostile initiator's code does
        pair.roundtrip_until_idle()


def test_a_rekey_flood_ends_the_session_with_rate_limited() -> None:
    """F12: an authenticated initiator that rekeys once per round trip is cut off after the burst,
    with a clear close code on both sides."""
    pair = established(rekey_limits=KeyedBuckets(1.0, 4))
    _force_rekeys(pair, 4)
    assert pair.r.epoch == 5 and pair.r.state is SessionState.ESTABLISHED  # the burst is allowed
    pair.take("r")
    _force_rekeys(pair, 1)
    (ended,) = [e for e in pair.take("r") if isinstance(e, SessionTerminated)]
    assert ended.code is ErrorCode.RATE_LIMITED and not ended.by_peer
    assert "rekeys faster than 1 per second" in ended.reason
    (told,) = [e for e in pair.take("i") if isinstance(e, SessionTerminated)]
    assert told.code is ErrorCode.RATE_LIMITED and told.by_peer


def test_a_new_session_does_not_bring_a_new_rekey_burst() -> None:
    """F12: the rekey budget is per peer, shared by all sessions: dialling again does not refill it."""
    pair = established(rekey_limits=KeyedBuckets(1.0, 3))
    _force_rekeys(pair, 3)
    assert pair.r.state is SessionState.ESTABLISHED
    again = SessionPair(pair.now)  # the same two stations, a new session (sharing the configs)
    again.a, again.b, again.line_key, again.ca, again.cb = pair.a, pair.b, pair.line_key, pair.ca, pair.cb
    again.i = _dial(pair, WALL_NS + 10**9)
    again.r = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    again.roundtrip_until_idle()
    assert again.r.state is SessionState.ESTABLISHED
    _force_rekeys(again, 1)
    assert again.r.state is SessionState.CLOSED
    (ended,) = [e for e in again.take("r") if isinstance(e, SessionTerminated)]
    assert ended.code is ErrorCode.RATE_LIMITED


def test_rekeys_at_the_allowed_pace_go_on_for_ever() -> None:
    pair = established(rekey_limits=KeyedBuckets(1.0, 2))
    for _ in range(20):
        pair.now += 1.0
        _force_rekeys(pair, 1)
    assert pair.r.state is SessionState.ESTABLISHED and pair.r.epoch == 21


def test_a_flood_of_rekey_requests_ends_the_session_with_rate_limited() -> None:
    """F12: a hostile responder asking for a rekey after every rekey makes the initiator stop."""
    pair = established(rekey_limits=KeyedBuckets(1.0, 3))
    for _ in range(5):
        if pair.r.state is not SessionState.ESTABLISHED:
            break
        pair.r._send_message(RekeyRequest(), pair.now)  # what a hostile responder's code does
        pair.roundtrip_until_idle()
    events = pair.take("i")
    assert len([e for e in events if isinstance(e, RekeyCompleted)]) == 3
    (ended,) = [e for e in events if isinstance(e, SessionTerminated)]
    assert ended.code is ErrorCode.RATE_LIMITED


def test_the_first_rekey_must_be_newer_than_the_sessions_initiation() -> None:
    """B4: the responder's rekey guard starts from the session's own initiation timestamp, so a
    first rekey dated at or before it is refused (it used to be accepted: the guard started empty)."""
    pair = established()
    side = pair.i._initiator_side
    assert side is not None
    side.wall_base_ns = WALL_NS - 10**12  # a hostile initiator dates its first rekey in the past
    side.last_timestamp = -1
    pair.advance(121)  # the rekey falls due
    (ended,) = [e for e in pair.take("r") if isinstance(e, SessionTerminated)]
    assert ended.code is ErrorCode.HANDSHAKE_FAILED and "replayed" in ended.reason


def test_an_honest_first_rekey_is_newer_than_the_initiation() -> None:
    pair = established()
    pair.advance(121)
    assert pair.r.epoch == 2 and pair.r.state is SessionState.ESTABLISHED
