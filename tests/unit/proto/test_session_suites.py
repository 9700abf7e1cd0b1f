"""A whole session under a line profile, and two ends whose profiles disagree (docs/protocol.md §3.8).

A ``cnsa2`` session runs everything on its line's path under that profile: the handshake in both
roles, the records, a rekey, the transcript hash chain, a call's own key exchange and its media
packets. What is checked here: each of those pieces under ``cnsa2``; that the whole path makes no
ChaCha20, BLAKE2 or ML-KEM-768 operation (the pyca and hashlib entry points are counted while it
runs, and the same count is non-zero for ``standard``, so the check is not vacuous); and that a
responder refuses an initiator whose line has the other profile, with no answer, no session and a
:class:`~hotline.proto.events.ProfileMismatch` naming both.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem as pyca_mlkem
from cryptography.hazmat.primitives.ciphers import aead as pyca_aead

from hotline.crypto import aead as our_aead
from hotline.crypto.aead import AESGCM_256, CHACHAPOLY
from hotline.crypto.hashing import HASH_LEN
from hotline.crypto.mlkem import MLKEM768, MLKEM1024
from hotline.proto.call import Call, CallState, EndReason
from hotline.proto.callkeys import CallKeys, commitment
from hotline.proto.delivery import HEAD_LEN, Accept, ChainMismatch, chain_next, chain_start, classify
from hotline.proto.events import DataReceived, HandshakeCompleted, ProfileMismatch, RekeyCompleted
from hotline.proto.handshake import init_len, mac1_key
from hotline.proto.linemsg import Entry
from hotline.proto.media import PACKET_LEN, MediaOpener, MediaSealer
from hotline.proto.records import RecordType
from hotline.proto.session import Session
from hotline.proto.states import SessionState
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.support import goldsession
from tests.support.pair import SessionPair
from tests.support.vectors import load_json

SUITES = [STANDARD, CNSA2]
BINDING = bytes(range(32))


def _line(suite: Suite) -> Callable[[bytes], Suite | None]:
    return lambda _key: suite


def profiled_pair(initiator: Suite, responder: Suite, **config: object) -> SessionPair:
    """Two ends that decide the profile per line (``suite_for``), each with its own line's."""
    mismatches: list[ProfileMismatch] = []
    pair = SessionPair(
        initiator_config={"suite_for": _line(initiator)},
        responder_config={"suite_for": _line(responder), "on_profile_mismatch": mismatches.append},
        **config,
    )
    pair.mismatches = mismatches  # type: ignore[attr-defined]
    return pair


# -- counting the standard profile's primitives --------------------------------------------------------


class _Counted:
    """Stands in for a pyca class or a hashlib constructor: counts every use, then defers to it."""

    def __init__(self, counts: Counter[str], name: str, original: object) -> None:
        self._counts, self._name, self._original = counts, name, original

    def __call__(self, *args: object, **kwargs: object) -> object:
        self._counts[self._name] += 1
        return self._original(*args, **kwargs)  # type: ignore[operator]

    def __getattr__(self, attr: str) -> object:
        if not attr.startswith("__"):  # generate, from_seed_bytes, from_public_bytes... (not introspection)
            self._counts[self._name] += 1
        return getattr(self._original, attr)


@pytest.fixture
def standard_uses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count every ChaCha20-Poly1305, BLAKE2s/BLAKE2b (pyca and hashlib) and ML-KEM-768 use."""
    counts: Counter[str] = Counter()

    def count(owner: object, attr: str, name: str) -> None:
        monkeypatch.setattr(owner, attr, _Counted(counts, name, getattr(owner, attr)))

    pyca_chacha = pyca_aead.ChaCha20Poly1305
    count(pyca_aead, "ChaCha20Poly1305", "ChaCha20")
    count(our_aead, "ChaCha20Poly1305", "ChaCha20")
    # the key class holds its pyca class: count there too
    monkeypatch.setattr(our_aead.CipherKey, "_PYCA", staticmethod(_Counted(counts, "ChaCha20", pyca_chacha)))
    for attr in ("blake2s", "blake2b"):
        count(hashlib, attr, "BLAKE2")
    original_new = hashlib.new

    def new(name: str, *args: object, **kwargs: object) -> object:
        if "blake2" in name.lower():
            counts["BLAKE2"] += 1
        return original_new(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "new", new)
    count(hashes, "BLAKE2s", "BLAKE2")
    count(hashes, "BLAKE2b", "BLAKE2")
    count(pyca_mlkem, "MLKEM768PrivateKey", "ML-KEM-768")
    count(pyca_mlkem, "MLKEM768PublicKey", "ML-KEM-768")
    counts.clear()
    yield counts


def _whole_session(suite: Suite) -> None:
    """Everything on a line's path under ``suite``: the handshake (both roles), messages in records
    both ways, a rekey, the transcript chain of two entries, a call's exchange and media."""
    pair = profiled_pair(suite, suite, rekey_after_time=30.0)
    pair.roundtrip_until_idle()
    assert pair.i.state is pair.r.state is SessionState.ESTABLISHED
    pair.i.send_data(b"to the responder", pair.now)
    pair.r.send_data(b"to the initiator", pair.now)
    pair.roundtrip_until_idle()
    pair.advance(31.0)  # a timed rekey
    pair.i.send_data(b"after the rekey", pair.now)
    pair.roundtrip_until_idle()
    events = pair.take("r")
    assert [e.data for e in events if isinstance(e, DataReceived)] == [
        b"to the responder",
        b"after the rekey",
    ]
    assert [e for e in events if isinstance(e, RekeyCompleted)] and pair.r.epoch == pair.i.epoch == 2
    # the transcript chain, from its start through two entries, accepted by the far end
    head = chain_start(b"a" * 32, b"b" * 32, suite)
    for seq in (1, 2):
        entry = _entry(seq, head, suite)
        verdict = classify(seq - 1, head, entry, suite)
        assert isinstance(verdict, Accept)
        head = verdict.head
    # a call and its media
    keys = _call(suite, pair.i.handshake_hash or b"")
    _media_roundtrip(keys)


def _entry(seq: int, head: bytes, suite: Suite) -> Entry:
    fields = {"seq": seq, "id": bytes([seq]) * 16, "kind": 1, "precedence": 0, "created_ms": 1000 * seq}
    chain = chain_next(head, **fields, ref=b"", body=b"entry %d" % seq, suite=suite)  # type: ignore[arg-type]
    return Entry(**fields, ref=b"", body=b"entry %d" % seq, chain=chain)  # type: ignore[arg-type]


def _placed(rng: random.Random, suite: Suite, binding: bytes) -> Call:
    """A caller's :class:`Call` on a line of ``suite``, its secrets drawn from ``rng``."""
    return Call.place(
        bytes(16),
        1,
        0.0,
        binding=binding,
        dh_secret=rng.randbytes(32),
        kem_seed=rng.randbytes(64),
        suite=suite,
    )


def _offered(rng: random.Random, offer: object, suite: Suite, binding: bytes) -> Call:
    """The callee's :class:`Call` for ``offer`` on a line of ``suite``, its secret drawn from ``rng``."""
    return Call.offered(
        offer,  # type: ignore[arg-type]
        2,
        0.0,
        binding=binding,
        dh_secret=rng.randbytes(32),
        kem=suite.kem(),
        suite=suite,
    )


def _call(suite: Suite, binding: bytes, callee_suite: Suite | None = None) -> CallKeys | None:
    """One call's signalling and key exchange between two :class:`Call` machines; the caller's keys
    (None when the callee ended it)."""
    rng = random.Random(7)
    caller = _placed(rng, suite, binding)
    (offer,) = caller.messages_to_send()
    callee = _offered(rng, offer, callee_suite or suite, binding)
    if callee.state is CallState.ENDED:
        return None
    for message in callee.messages_to_send():
        caller.receive(message, 0.0)
    for message in caller.messages_to_send():
        callee.receive(message, 0.0)
    assert caller.keys is not None and caller.keys == callee.keys
    return caller.keys


def _media_roundtrip(keys: CallKeys | None) -> None:
    assert keys is not None
    sealer = MediaSealer(keys.sending(caller=True), 2, keys.aead)
    opener = MediaOpener(keys.receiving(caller=False), 2, keys.aead)
    for n in range(3):
        packet = sealer.seal(b"frame %d" % n)
        assert len(packet) == PACKET_LEN
        assert opener.open(packet) == (n, b"frame %d" % n)


def test_a_cnsa2_session_makes_no_chacha_blake2_or_mlkem768_operation(standard_uses: Counter[str]) -> None:
    _whole_session(CNSA2)
    assert standard_uses == Counter()


def test_the_count_is_not_vacuous(standard_uses: Counter[str]) -> None:
    """The same path under ``standard`` uses all three, so the counting sees them."""
    _whole_session(STANDARD)
    assert {"ChaCha20", "BLAKE2", "ML-KEM-768"} <= set(standard_uses)


# -- each piece under cnsa2 ----------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.profile)
def test_a_session_runs_its_line_s_profile_in_both_roles(suite: Suite) -> None:
    pair = profiled_pair(suite, suite)
    first = pair.i.data_to_send()
    assert len(first) == 3 + init_len(suite.kem()) and first[2] == RecordType.HANDSHAKE_INIT
    pair.r.receive_data(first, pair.now)
    pair.drain()
    pair.roundtrip_until_idle()
    (hi,) = [e for e in pair.take("i") if isinstance(e, HandshakeCompleted)]
    (hr,) = [e for e in pair.take("r") if isinstance(e, HandshakeCompleted)]
    assert hi.protocol_name == hr.protocol_name == suite.protocol_name
    assert pair.i.suite is pair.r.suite is suite
    assert pair.i.protocol_name == pair.r.protocol_name == suite.protocol_name
    assert hi.handshake_hash == hr.handshake_hash and len(hi.handshake_hash) == HASH_LEN[suite.noise_hash]
    assert pair.mismatches == []  # type: ignore[attr-defined]


def test_cnsa2_records_are_aes_gcm() -> None:
    pair = profiled_pair(CNSA2, CNSA2)
    pair.roundtrip_until_idle()
    send = pair.i._transport.send
    assert send is not None and isinstance(send.cipher._key, our_aead.AesGcmKey)


def test_a_session_config_without_suite_for_runs_its_suite() -> None:
    pair = SessionPair(suite=CNSA2)
    pair.roundtrip_until_idle()
    assert pair.i.state is pair.r.state is SessionState.ESTABLISHED
    assert pair.r.protocol_name == CNSA2.protocol_name


def test_a_responder_with_one_suite_reads_no_other_profile() -> None:
    """Without ``suite_for``, a responder takes only its config's profile: a cnsa2 initiation to a
    standard-only responder is dropped like any stranger's (no mismatch: it has no lines to tell)."""
    pair = SessionPair(initiator_config={"suite": CNSA2})
    pair.roundtrip_until_idle()
    assert pair.r.state is SessionState.DROPPED and pair.r.mismatch is None


def test_rekeys_of_a_cnsa2_session_stay_cnsa2() -> None:
    pair = profiled_pair(CNSA2, CNSA2, rekey_after_records=20)
    pair.roundtrip_until_idle()
    for n in range(200):
        pair.i.send_data(bytes([n]) * 100, pair.now)
        pair.r.send_data(bytes([n]) * 100, pair.now)
        pair.roundtrip_until_idle()
    assert pair.i.epoch >= 5 and pair.r.epoch == pair.i.epoch
    assert pair.i.handshake_hash == pair.r.handshake_hash and len(pair.i.handshake_hash or b"") == 64


def test_the_transcript_chain_follows_the_profile() -> None:
    start = {s.profile: chain_start(b"a" * 32, b"b" * 32, s) for s in SUITES}
    assert all(len(h) == HEAD_LEN for h in start.values()) and start["standard"] != start["cnsa2"]
    # the standard chain is today's (keyed BLAKE2s), unchanged by the parameter
    assert start["standard"] == chain_start(b"a" * 32, b"b" * 32)
    entry = _entry(1, start["cnsa2"], CNSA2)
    assert len(entry.chain) == HEAD_LEN
    assert isinstance(classify(0, start["cnsa2"], entry, CNSA2), Accept)
    # read under the other profile, the same entry is a foreign head: never silently accepted
    assert isinstance(classify(0, start["cnsa2"], entry, STANDARD), ChainMismatch)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.profile)
def test_a_call_and_its_media_under_the_profile(suite: Suite) -> None:
    keys = _call(suite, BINDING)
    assert keys is not None
    assert keys.aead is (AESGCM_256 if suite is CNSA2 else CHACHAPOLY)
    _media_roundtrip(keys)


def test_cnsa2_call_keys_differ_from_standard_ones_and_commit_in_32_bytes() -> None:
    assert len(commitment(bytes(16), bytes(32), CNSA2)) == 32
    assert commitment(bytes(16), bytes(32), CNSA2) != commitment(bytes(16), bytes(32))
    cnsa2, standard = _call(CNSA2, BINDING), _call(STANDARD, BINDING)
    assert cnsa2 is not None and standard is not None
    assert cnsa2.caller_to_callee != standard.caller_to_callee and cnsa2.sas != standard.sas


@pytest.mark.parametrize(("caller", "callee"), [(STANDARD, CNSA2), (CNSA2, STANDARD)], ids=["s-c", "c-s"])
def test_a_call_between_profiles_gets_no_keys(caller: Suite, callee: Suite) -> None:
    rng = random.Random(1)
    offer = _placed(rng, caller, BINDING).messages_to_send()[0]
    far = _offered(rng, offer, callee, BINDING)
    assert far.state is CallState.ENDED and far.end_reason is EndReason.BAD_KEYS


def test_a_callee_kem_must_be_its_profile_s() -> None:
    rng = random.Random(2)
    offer = _placed(rng, CNSA2, BINDING).messages_to_send()[0]
    with pytest.raises(ValueError, match="MLKEM1024"):
        Call.offered(offer, 2, 0.0, binding=BINDING, dh_secret=rng.randbytes(32), kem=MLKEM768(), suite=CNSA2)  # type: ignore[arg-type]


def test_media_of_one_profile_does_not_open_under_the_other() -> None:
    key = bytes(range(32))
    packet = MediaSealer(key, 5, AESGCM_256).seal(b"speech")
    assert MediaOpener(key, 5, AESGCM_256).open(packet) == (0, b"speech")
    opener = MediaOpener(key, 5, CHACHAPOLY)
    assert opener.open(packet) is None and opener.forged == 1


# -- ends that disagree ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("ours", "theirs"), [(STANDARD, CNSA2), (CNSA2, STANDARD)], ids=["s-c", "c-s"])
def test_mismatched_profiles_get_no_session_and_the_mismatch_names_both(ours: Suite, theirs: Suite) -> None:
    """The initiator's line is ``theirs``, the responder's ``ours``: no answer, no session, and the
    responder's station is told who it was and which profiles disagree."""
    pair = profiled_pair(theirs, ours)
    pair.r.receive_data(pair.i.data_to_send(), pair.now)
    assert pair.r.state is SessionState.DROPPED
    assert pair.r.data_to_send() == b""  # nothing answered
    pair.drain()
    assert pair.take("r") == []  # no session event: the refusal is not a session
    expected = ProfileMismatch(pair.a.public, theirs.profile, ours.profile)
    assert pair.r.mismatch == expected and pair.mismatches == [expected]  # type: ignore[attr-defined]
    # the initiator hears nothing and gives up at its handshake timeout, as with any silent drop
    pair.advance(pair.ca.handshake_timeout + 1)
    assert pair.i.state is SessionState.CLOSED
    assert not [e for e in pair.take("i") if isinstance(e, HandshakeCompleted)]


def test_a_mismatch_is_not_reported_for_a_replayed_initiation() -> None:
    """A recording of the peer's earlier initiation (say, from before the line's profile changed)
    is stopped by the replay guard first: no alert for something an eavesdropper can play back."""
    pair = profiled_pair(CNSA2, CNSA2)
    first = bytes(pair.i.data_to_send())
    pair.r.receive_data(first, pair.now)
    pair.roundtrip_until_idle()  # confirmed: the guard is raised past that initiation
    seen: list[ProfileMismatch] = []
    config = pair.cb.__class__(
        static=pair.b.static, suite_for=_line(STANDARD), on_profile_mismatch=seen.append
    )  # the line is now standard here
    replay = Session.responder(config, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    replay.receive_data(first, pair.now)
    assert replay.state is SessionState.DROPPED and replay.mismatch is None and seen == []


def test_an_unknown_peer_is_dropped_without_a_mismatch() -> None:
    pair = SessionPair(
        initiator_config={"suite_for": _line(CNSA2)}, responder_config={"suite_for": lambda _key: None}
    )
    pair.roundtrip_until_idle()
    assert pair.r.state is SessionState.DROPPED and pair.r.mismatch is None


def test_an_initiation_whose_mac1_is_for_no_profile_is_dropped_before_any_work() -> None:
    pair = profiled_pair(CNSA2, CNSA2)
    first = bytearray(pair.i.data_to_send())
    first[-1] ^= 1  # mac1
    pair.r.receive_data(bytes(first), pair.now)
    assert pair.r.state is SessionState.DROPPED and pair.r.mismatch is None


def test_mac1_keys_differ_per_profile() -> None:
    static = bytes(range(32))
    assert mac1_key(static, STANDARD.mac_hash) != mac1_key(static, CNSA2.mac_hash)
    assert isinstance(CNSA2.kem(), MLKEM1024)


# -- golden sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_the_golden_session(profile: str) -> None:
    """Every byte of a deterministic session (handshake, records, a rekey, the chain, a call's keys
    and media) is what ``tests/vectors/hfs/golden-session-<profile>.json`` pins. The standard file
    was written by the code from before line profiles: the standard wire has not changed."""
    assert goldsession.run(profile) == load_json("hfs", f"golden-session-{profile}.json")
