"""The Session state machine, driven in memory with explicit time (no sockets, no sleeps)."""

from __future__ import annotations

import pytest

from hotline.crypto.mlkem import MLKEM768PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.constants import MAX_DATA_LEN, PADDING_BUCKETS, RECORD_HEADER_LEN
from hotline.proto.errors import ErrorCode, LocalProtocolError
from hotline.proto.events import (
    DataReceived,
    HandshakeCompleted,
    RekeyCompleted,
    RoundTripMeasured,
    SessionTerminated,
)
from hotline.proto.handshake import InitiationTimestamps
from hotline.proto.messages import Data
from hotline.proto.records import RecordReader, RecordType, frame
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig
from hotline.proto.states import SessionState
from tests.support.pair import WALL_NS, Peers, SessionPair


def established(**config: object) -> SessionPair:
    pair = SessionPair(**config)
    pair.roundtrip_until_idle()
    assert pair.i.state is SessionState.ESTABLISHED
    assert pair.r.state is SessionState.ESTABLISHED
    return pair


def data(events: list) -> list[bytes]:
    return [e.data for e in events if isinstance(e, DataReceived)]


def of(kind: type, events: list) -> list:
    return [e for e in events if isinstance(e, kind)]


def records(wire: bytes) -> list[tuple[int, bytes]]:
    reader = RecordReader()
    reader.feed(wire)
    out = []
    while (rec := reader.next_record()) is not None:
        out.append(rec)
    assert reader.buffered == 0
    return out


def test_handshake_completes_with_matching_hashes() -> None:
    pair = SessionPair()
    assert pair.roundtrip_until_idle() <= 3
    (hi,) = of(HandshakeCompleted, pair.take("i"))
    (hr,) = of(HandshakeCompleted, pair.take("r"))
    assert hi.initiator and not hr.initiator
    assert hi.handshake_hash == hr.handshake_hash
    assert hi.peer_static == pair.b.public and hr.peer_static == pair.a.public
    assert hi.protocol_name == "Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    assert pair.i.epoch == pair.r.epoch == 1


@pytest.mark.parametrize("direction", ["i->r", "r->i"])
def test_payloads_arrive_in_order_exactly_once(direction: str) -> None:
    pair = established()
    sender, receiver = (pair.i, "r") if direction == "i->r" else (pair.r, "i")
    payloads = [bytes([n % 256]) * n for n in range(0, 3000, 7)] + [bytes(MAX_DATA_LEN)]
    for p in payloads:
        sender.send_data(p, pair.now)
    pair.roundtrip_until_idle()
    assert data(pair.take(receiver)) == payloads


def test_every_transport_record_is_a_padding_bucket() -> None:
    pair = established()
    pair.take("i")
    sizes = set()
    for n in (0, 1, 60, 61, 200, 5000, 9000, 20000, 40000, MAX_DATA_LEN):
        pair.i.send_data(bytes(n), pair.now)
        sizes |= {len(body) - 16 for _, body in records(pair.i.data_to_send())}
    assert sizes <= set(PADDING_BUCKETS)
    assert len(sizes) >= 8


def test_a_burst_of_small_messages_shares_records_in_order() -> None:
    pair = established()
    pair.take("r")
    payloads = [n.to_bytes(4, "big") * 10 for n in range(5000)]
    for p in payloads:
        pair.i.send_data(p, pair.now)
    wire = pair.i.data_to_send()
    assert 2 < len(records(wire)) < 10  # 5000 messages, a handful of full records
    pair.r.receive_data(wire, pair.now)
    pair.drain()
    assert data(pair.take("r")) == payloads


def test_full_records_go_out_before_a_flush() -> None:
    pair = established()
    pair.i.data_to_send()
    pair.take("r")
    pair.i.send_data(b"small", pair.now)
    assert pair.i.data_to_send(flush=False) == b""  # waits for company
    big = bytes(range(256)) * 800  # 204,800 bytes: spans records
    pair.i.send_data(big, pair.now)
    full = records(pair.i.data_to_send(flush=False))
    assert len(full) == 3
    assert {len(body) - 16 for _, body in full} == {max(PADDING_BUCKETS)}
    rest = pair.i.data_to_send()
    assert len(records(rest)) == 1
    pair.r.receive_data(b"".join(frame(RecordType(t), bytes(b)) for t, b in full) + rest, pair.now)
    pair.drain()
    assert data(pair.take("r")) == [b"small", big]


def test_oversized_payload_is_refused_locally() -> None:
    pair = established()
    with pytest.raises(LocalProtocolError) as info:
        pair.i.send_data(bytes(MAX_DATA_LEN + 1), pair.now)
    assert info.value.code is ErrorCode.MESSAGE_TOO_LARGE


def test_send_before_established_is_a_local_error() -> None:
    pair = SessionPair()
    with pytest.raises(LocalProtocolError):
        pair.i.send_data(b"early", pair.now)


def test_rekey_after_time_keeps_order_across_the_switch() -> None:
    """Records queued on both sides around a time-based rekey all arrive, in order."""
    pair = established()
    sent_i, sent_r = [], []
    for step in range(40):
        pair.now += 5.0  # 200 s in all: past one rekey at 120 s, never at the 180 s limit
        for side, log in ((pair.i, sent_i), (pair.r, sent_r)):
            msg = f"{step}".encode()
            side.send_data(msg, pair.now)
            log.append(msg)
        pair.i.handle_timer(pair.now)
        pair.r.handle_timer(pair.now)
        pair.roundtrip_until_idle()
    ev_i, ev_r = pair.take("i"), pair.take("r")
    assert data(ev_r) == sent_i and data(ev_i) == sent_r
    assert len(of(RekeyCompleted, ev_i)) >= 1 and len(of(RekeyCompleted, ev_r)) >= 1
    assert pair.i.epoch == pair.r.epoch >= 2
    assert pair.i.handshake_hash == pair.r.handshake_hash


def test_rekey_after_volume() -> None:
    pair = established(rekey_after_records=50)
    for n in range(500):
        pair.r.send_data(n.to_bytes(2, "big"), pair.now)
        pair.roundtrip_until_idle()
    assert data(pair.take("i")) == [n.to_bytes(2, "big") for n in range(500)]
    assert pair.i.epoch >= 8  # the responder asked, the initiator rekeyed


def test_old_key_records_are_rejected_after_a_rekey() -> None:
    pair = established()
    pair.i.send_data(b"before", pair.now)
    old_record = pair.i.data_to_send()
    pair.r.receive_data(old_record, pair.now)
    pair.advance(121)  # time-based rekey
    assert pair.i.epoch == 2
    pair.i.send_data(b"after", pair.now)  # the responder switches to the new receive key here
    pair.roundtrip_until_idle()
    assert data(pair.take("r")) == [b"before", b"after"]
    pair.r.receive_data(old_record, pair.now)  # a replay of a record under the old key
    pair.drain()
    (term,) = of(SessionTerminated, pair.take("r"))
    assert term.code is ErrorCode.PROTOCOL_VIOLATION
    assert data(pair.events["r"]) == []


def _lose_initiator_output_after(pair: SessionPair, cutoff: float, until: float) -> None:
    """Step time by 1 s; from ``cutoff`` on, whatever the initiator sends (its rekey first) is lost."""
    t = pair.now
    while pair.i.state is SessionState.ESTABLISHED and t < until:
        t += 1.0
        pair.now = t
        pair.i.handle_timer(t)
        pair.r.handle_timer(t)
        out_i = pair.i.data_to_send()
        if out_i and t < cutoff:
            pair.r.receive_data(out_i, t)
        pair.transfer(pair.r)
        pair.drain()


def test_an_unanswered_rekey_ends_the_session() -> None:
    pair = established(keepalive_misses=100)  # so that idleness does not end it first
    pair.take("i")
    _lose_initiator_output_after(pair, cutoff=120, until=200)
    (term,) = of(SessionTerminated, pair.take("i"))
    assert term.code is ErrorCode.HANDSHAKE_TIMEOUT
    assert pair.now == 130.0  # rekey started at 120, handshake timeout 10 s


def test_keys_expire_when_no_rekey_succeeds() -> None:
    """If every rekey is lost, the session ends at the 180 s limit rather than use old keys."""
    pair = established(keepalive_misses=100, handshake_timeout=100.0)
    pair.take("i")
    _lose_initiator_output_after(pair, cutoff=120, until=250)
    (term,) = of(SessionTerminated, pair.take("i"))
    assert term.code is ErrorCode.KEY_EXPIRED
    assert pair.now == 180.0


def test_a_superseded_receive_key_is_retired_at_its_age_limit() -> None:
    """The responder holds its old receiving key until the initiator's first new-phase record; if
    that record is late, the old key is retired at 180 s instead of ending the session."""
    pair = established(keepalive_interval=1000.0, keepalive_misses=10)
    pair.advance(121)  # time-based rekey; the initiator says nothing afterwards
    assert pair.r.epoch == 2
    old_then = pair.r._transport.next_recv is not None
    pair.advance(70)  # past 180 s of the first keys
    assert old_then and pair.r._transport.next_recv is None
    assert pair.r.state is SessionState.ESTABLISHED and pair.i.state is SessionState.ESTABLISHED
    pair.i.send_data(b"still here", pair.now)
    pair.roundtrip_until_idle()
    assert data(pair.take("r")) == [b"still here"]


def test_nothing_is_sent_after_the_peers_close() -> None:
    """Regression: a Close that crosses the volume limit must not start a rekey."""
    pair = established(rekey_after_records=3)
    pair.take("i")
    pair.r.close(pair.now, ErrorCode.LOCAL_CLOSE, "bye")
    pair.i.receive_data(pair.r.data_to_send(), pair.now)
    assert pair.i.state is SessionState.CLOSED
    assert pair.i.data_to_send() == b""


def test_paused_reading_does_not_count_as_the_peer_being_idle() -> None:
    pair = established(keepalive_interval=1.0)
    pair.r.pause_reading(True, pair.now)
    t = pair.now
    for _ in range(10):  # ten seconds in which we do not read what the peer sends
        t += 1.0
        pair.r.handle_timer(t)
        pair.r.data_to_send()
    assert pair.r.state is SessionState.ESTABLISHED
    pair.r.pause_reading(False, t)
    assert pair.r.get_timer() is not None and pair.r.get_timer() >= t + 1.0


def test_keepalive_measures_round_trip() -> None:
    pair = established(keepalive_interval=2.0)
    pair.take("i")
    pair.advance(2.5)
    assert of(RoundTripMeasured, pair.take("i"))


def test_silent_peer_ends_in_idle_timeout() -> None:
    pair = established(keepalive_interval=1.0)
    pair.take("i")
    t = pair.now
    while pair.i.state is SessionState.ESTABLISHED:
        t = pair.i.get_timer() or t
        pair.i.handle_timer(t)
        pair.i.data_to_send()  # lost on the way
        pair.drain()
    (term,) = of(SessionTerminated, pair.take("i"))
    assert term.code is ErrorCode.IDLE_TIMEOUT
    assert t == pytest.approx(pair.now + 3.0)


def test_close_reaches_the_peer_with_its_code() -> None:
    pair = established()
    pair.i.close(pair.now, ErrorCode.LOCAL_CLOSE, "operator hung up")
    pair.roundtrip_until_idle()
    (term,) = of(SessionTerminated, pair.take("r"))
    assert term.by_peer and term.code is ErrorCode.LOCAL_CLOSE and term.reason == "operator hung up"
    assert pair.i.state is pair.r.state is SessionState.CLOSED
    assert pair.i.get_timer() is None


def test_eof_is_data() -> None:
    pair = established()
    pair.r.receive_data(b"", pair.now)
    pair.drain()
    (term,) = of(SessionTerminated, pair.take("r"))
    assert term.code is ErrorCode.CONNECTION_LOST


def test_tampered_record_ends_the_session_with_a_code() -> None:
    pair = established()
    pair.i.send_data(b"hello", pair.now)
    wire = bytearray(pair.i.data_to_send())
    wire[-1] ^= 1
    pair.r.receive_data(bytes(wire), pair.now)
    pair.drain()
    (term,) = of(SessionTerminated, pair.take("r"))
    assert term.code is ErrorCode.DECRYPT_FAILED and not term.by_peer
    assert not data(pair.events["r"])


def test_record_spliced_from_another_line_fails() -> None:
    one, two = established(), established()
    one.i.send_data(b"for line one", one.now)
    two.r.receive_data(one.i.data_to_send(), two.now)
    two.drain()
    (term,) = of(SessionTerminated, two.take("r"))
    assert term.code is ErrorCode.DECRYPT_FAILED


def test_responder_says_nothing_until_the_handshake_deadline() -> None:
    config = SessionConfig(static=X25519PrivateKey.generate(), handshake_timeout=5.0)
    r = Session.responder(config, peers=Peers(), guard=TimestampGuard(), now=0.0)
    assert r.get_timer() == 5.0
    r.receive_data(b"\x00\x10\x01" + bytes(16), 1.0)
    assert r.state is SessionState.DROPPED and r.data_to_send() == b"" and r.next_event() is None
    r.handle_timer(5.0)
    assert r.data_to_send() == b""
    ev = r.next_event()
    assert isinstance(ev, SessionTerminated) and ev.code is ErrorCode.HANDSHAKE_TIMEOUT


def _initiation(pair: SessionPair) -> bytes:
    wire = pair.i.data_to_send()
    ((rtype, _),) = records(wire)
    assert rtype == RecordType.HANDSHAKE_INIT
    return wire


def test_unknown_initiator_gets_no_answer() -> None:
    pair = SessionPair()
    pair.b.peers.keys.clear()
    pair.r.receive_data(_initiation(pair), pair.now)
    assert pair.r.data_to_send() == b"" and pair.r.state is SessionState.DROPPED


def test_replayed_initiation_gets_no_answer() -> None:
    pair = SessionPair()
    wire = _initiation(pair)
    pair.r.receive_data(wire, pair.now)
    assert pair.r.data_to_send()  # the first one is answered
    again = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    assert pair.b.peers.replays == {}
    again.receive_data(wire, pair.now)
    assert again.data_to_send() == b"" and again.state is SessionState.DROPPED
    assert pair.b.peers.replays == {pair.a.public: 1}  # the directory hears whose replay it was


def test_wrong_line_key_fails_and_the_responder_never_confirms() -> None:
    pair = SessionPair()
    pair.b.peers.keys[pair.a.public] = bytes(32)
    pair.roundtrip_until_idle()
    (term,) = of(SessionTerminated, pair.take("i"))
    assert term.code is ErrorCode.HANDSHAKE_FAILED
    assert not of(HandshakeCompleted, pair.take("r"))
    assert pair.r.state is SessionState.AWAIT_CONFIRMATION


def test_bad_mac_costs_no_asymmetric_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first message without a valid mac1 is dropped before any DH or KEM operation."""
    calls = {"dh": 0, "kem": 0, "keygen": 0}
    real_exchange = X25519PrivateKey.exchange
    real_decaps = MLKEM768PrivateKey.decapsulate
    real_generate = X25519PrivateKey.generate.__func__  # type: ignore[attr-defined]

    def counting_generate(cls: type[X25519PrivateKey]) -> X25519PrivateKey:
        calls["keygen"] += 1
        return real_generate(cls)  # type: ignore[no-any-return]

    def counting_exchange(self: X25519PrivateKey, peer: object) -> bytes:
        calls["dh"] += 1
        return real_exchange(self, peer)  # type: ignore[arg-type]

    def counting_decaps(self: MLKEM768PrivateKey, ct: bytes) -> bytes:
        calls["kem"] += 1
        return real_decaps(self, ct)

    pair = SessionPair()
    wire = bytearray(_initiation(pair))
    monkeypatch.setattr(X25519PrivateKey, "exchange", counting_exchange)
    monkeypatch.setattr(MLKEM768PrivateKey, "decapsulate", counting_decaps)
    monkeypatch.setattr(X25519PrivateKey, "generate", classmethod(counting_generate))
    config = SessionConfig(static=pair.b.static, new_ephemeral=lambda: X25519PrivateKey.generate())
    for position in (RECORD_HEADER_LEN, len(wire) // 2, len(wire) - 1):  # ephemeral, body, mac
        forged = bytearray(wire)
        forged[position] ^= 0x01
        r = Session.responder(config, peers=pair.b.peers, guard=pair.b.guard, now=0.0)
        r.receive_data(bytes(forged), 0.0)
        assert r.state is SessionState.DROPPED and r.data_to_send() == b""
    assert calls == {"dh": 0, "kem": 0, "keygen": 0}
    genuine = Session.responder(config, peers=pair.b.peers, guard=pair.b.guard, now=0.0)
    genuine.receive_data(bytes(wire), 0.0)  # the genuine one does the work
    assert genuine.data_to_send()
    assert calls["dh"] >= 4 and calls["keygen"] == 1


def test_initiation_timestamp_is_the_wall_clock() -> None:
    """The guard takes the initiation's timestamp, but only once the line key is proven (F8)."""
    pair = SessionPair()
    pair.r.receive_data(_initiation(pair), pair.now)
    assert pair.a.public not in pair.b.guard.latest  # answered, not yet confirmed
    pair.roundtrip_until_idle()
    assert pair.r.state is SessionState.ESTABLISHED
    assert pair.b.guard.latest[pair.a.public] == WALL_NS


def test_rekeys_do_not_depend_on_other_sessions_timestamps() -> None:
    """Regression: a second session between the same stations, started with a later wall clock,
    must not make the first session's next rekey look like a replay."""
    pair = established()
    later = Session.initiator(
        pair.ca,
        peer_static=pair.b.public,
        line_key=pair.line_key,
        now=pair.now,
        wall_time_ns=WALL_NS + 10**12,
    )
    other = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    other.receive_data(later.data_to_send(), pair.now)
    later.receive_data(other.data_to_send(), pair.now)
    assert later.state is SessionState.ESTABLISHED
    pair.advance(121)
    assert pair.i.epoch == pair.r.epoch == 2
    assert pair.i.state is SessionState.ESTABLISHED


def test_initiation_timestamps_follow_the_wall_clock_but_never_repeat_or_go_back() -> None:
    stamps = InitiationTimestamps()
    assert stamps.next(WALL_NS) == WALL_NS
    assert stamps.next(WALL_NS) == WALL_NS + 1  # two dials in one clock tick
    assert stamps.next(WALL_NS - 7200 * 10**9) == WALL_NS + 2  # the clock stepped back 2 h
    assert stamps.next(WALL_NS + 10**9) == WALL_NS + 10**9  # the clock passed them again
    stamps.observe(WALL_NS)  # an older one sent before a restart changes nothing
    assert stamps.last_ns == WALL_NS + 10**9
    restored = InitiationTimestamps()
    restored.observe(WALL_NS + 5 * 10**9)  # a restart, with the clock still behind
    assert restored.next(WALL_NS) == WALL_NS + 5 * 10**9 + 1


def _dial_again(pair: SessionPair, wall_time_ns: int) -> Session:
    """A new session from ``pair``'s initiator station to the same responder station."""
    again = Session.initiator(
        pair.ca, peer_static=pair.b.public, line_key=pair.line_key, now=pair.now, wall_time_ns=wall_time_ns
    )
    answer = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    answer.receive_data(again.data_to_send(), pair.now)
    response = answer.data_to_send()
    if response:  # nothing at all is the answer to a replay (and b"" would mean the end of stream)
        again.receive_data(response, pair.now)
    return again


def test_a_wall_clock_step_back_does_not_lock_the_initiator_out() -> None:
    """Regression: after the initiator's wall clock stepped back, its new initiations carried older
    timestamps than the responder had accepted, and were dropped as replays until the responder
    restarted. Its station's timestamps (the first session's was ``WALL_NS``) go on instead."""
    pair = established()
    stepped_back = WALL_NS - 7200 * 10**9
    assert _dial_again(pair, stepped_back).state is SessionState.AWAIT_RESPONSE  # the bare clock: dropped
    stamps = InitiationTimestamps(last_ns=WALL_NS)
    again = _dial_again(pair, stamps.next(stepped_back))
    assert again.state is SessionState.ESTABLISHED
    assert _dial_again(pair, stamps.next(stepped_back)).state is SessionState.ESTABLISHED


def test_an_oversized_data_body_from_the_peer_is_a_violation() -> None:
    pair = established()
    pair.take("r")
    pair.i._transport.stream_out.push(Data(bytes(MAX_DATA_LEN + 1)))  # around send_data's own check
    pair.r.receive_data(pair.i.data_to_send(), pair.now)
    pair.drain()
    (term,) = of(SessionTerminated, pair.take("r"))
    assert term.code is ErrorCode.PROTOCOL_VIOLATION
