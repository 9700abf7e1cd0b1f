"""A call's own key exchange (hotline.proto.callkeys, driven through hotline.proto.call): findings F3
(a man in the middle ground the SAS) and F9 (call keys outlived the call).

The man in the middle here holds both sessions and writes every call message on both legs: it runs
real :class:`Call` machines of its own on each leg and, where the protocol would let it, changes what
it sends after seeing what the honest ends sent.
"""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest

from hotline.crypto.mlkem import MLKEM768, MLKEM768PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.call import CODEC, Call, CallState, EndReason
from hotline.proto.callkeys import (
    CalleeExchange,
    CallerExchange,
    CallKeys,
    Transcript,
    commitment,
    derive,
)
from hotline.proto.linemsg import (
    CallAnswer,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessage,
    Signal,
    decode,
    encode,
)
from hotline.proto.suites import CNSA2, Suite
from hotline.proto.wordlist import WORDS
from tests.support.reachable import reachable

CALL_ID = b"\x42" * 16
#: The handshake hashes of the two sessions a man in the middle holds (A with M, M with B).
HH_A = b"\x0a" * 32
HH_B = b"\x0b" * 32


def place(binding: bytes, call_id: bytes = CALL_ID, index: int = 1) -> Call:
    return Call.place(
        call_id, index, 0.0, binding=binding, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )


def offered(offer: LineMessage, binding: bytes, index: int = 2) -> Call:
    assert isinstance(offer, CallOffer)
    return Call.offered(offer, index, 0.0, binding=binding, dh_secret=random.randbytes(32), kem=MLKEM768())


def one(call: Call) -> LineMessage:
    """The one message ``call`` has to send, through the wire encoding."""
    (message,) = call.messages_to_send()
    return decode(encode(message))


def feed(call: Call, message: LineMessage) -> None:
    assert isinstance(message, CallAnswer | CallRinging | CallReveal | CallSignal)
    call.receive(message, 0.0)


def honest_call(binding: bytes = HH_A, call_id: bytes = CALL_ID) -> tuple[Call, Call]:
    """Caller and callee, the whole exchange run and answered."""
    caller = place(binding, call_id)
    callee = offered(one(caller), binding)
    feed(caller, one(callee))  # ringing: the callee's share
    feed(callee, one(caller))  # the reveal
    callee.answer(0.0)
    feed(caller, one(callee))
    assert caller.state is callee.state is CallState.ACTIVE
    return caller, callee


def test_both_ends_derive_the_same_keys_and_words() -> None:
    caller, callee = honest_call()
    assert caller.keys is not None and caller.keys == callee.keys
    assert caller.keys.sending(caller=True) == callee.keys.receiving(caller=False)
    assert caller.keys.caller_to_callee != caller.keys.callee_to_caller
    assert caller.sas == callee.sas and caller.sas is not None
    assert len(caller.sas) == 4 and all(w in WORDS for w in caller.sas)


def test_keys_differ_for_every_call_on_one_session() -> None:
    """F9: two calls on the same session (same handshake hash) share nothing."""
    first, _ = honest_call(HH_A, b"\x01" * 16)
    second, _ = honest_call(HH_A, b"\x02" * 16)
    again, _ = honest_call(HH_A, b"\x01" * 16)  # even a repeated call id gets fresh keys
    keys = [c.keys for c in (first, second, again)]
    assert all(k is not None for k in keys)
    assert len({k.caller_to_callee for k in keys if k}) == 3
    assert len({k.callee_to_caller for k in keys if k}) == 3
    assert len({c.sas for c in (first, second, again)}) == 3


def _exchange(binding: bytes = HH_A) -> tuple[Transcript, bytes, bytes, CallKeys]:
    caller = CallerExchange(CALL_ID, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64))
    callee = CalleeExchange(
        CALL_ID, caller.commitment, caller.kem_public, dh_secret=random.randbytes(32), kem=MLKEM768()
    )
    keys = caller.finish(binding, CALL_ID, 1, 2, callee.dh_public, callee.ciphertext)
    transcript = Transcript(
        binding, CALL_ID, 1, 2, caller.commitment, caller.kem_public, callee.dh_public, callee.ciphertext,
        caller.dh_public,
    )  # fmt: skip
    assert callee.finish(binding, 1, 2, caller.dh_public) == keys
    return transcript, caller.dh_public, callee.dh_public, keys


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Transcript)])
def test_every_public_value_feeds_the_keys_and_the_words(field: str) -> None:
    """The session binding, the indexes and every share are in the transcript the keys come from."""
    transcript, _, _, _ = _exchange()
    secrets = random.randbytes(32), random.randbytes(32)
    base = derive(transcript, *secrets)
    value = getattr(transcript, field)
    if isinstance(value, Suite):
        changed: object = CNSA2  # the profile: its hash and labels
    else:
        changed = value + 1 if isinstance(value, int) else bytes([value[0] ^ 1]) + value[1:]
    other = derive(dataclasses.replace(transcript, **{field: changed}), *secrets)
    assert other.caller_to_callee != base.caller_to_callee and other.callee_to_caller != base.callee_to_caller
    assert other.sas != base.sas


def test_the_keys_are_not_a_function_of_the_session_and_what_was_sent() -> None:
    """F9: everything the session saw (its handshake hash and every call message) gives the keys only
    together with the two shared secrets, which nothing keeps after the exchange."""
    transcript, _, _, keys = _exchange()
    for dh, kem in ((bytes(32), bytes(32)), (transcript.binding, transcript.binding)):
        guess = derive(transcript, dh, kem)
        assert keys.caller_to_callee not in (guess.caller_to_callee, guess.callee_to_caller)


def secrets_in(call: Call, keys: CallKeys) -> list[object]:
    """Private keys, shared secrets, exchanges or media keys still reachable from ``call``."""
    bad = (X25519PrivateKey, MLKEM768PrivateKey, CallerExchange, CalleeExchange, CallKeys)
    secret_bytes = {keys.caller_to_callee, keys.callee_to_caller}
    return [o for o in reachable(call) if isinstance(o, bad) or (isinstance(o, bytes) and o in secret_bytes)]


def test_a_finished_call_holds_no_secret() -> None:
    """F9: once the exchange is done no private key is left; once the call ends, no key either."""
    caller, callee = honest_call()
    assert caller.keys is not None
    keys = caller.keys
    for call in (caller, callee):
        assert not [o for o in reachable(call) if isinstance(o, X25519PrivateKey | MLKEM768PrivateKey)]
    caller.hangup(1.0)
    feed(callee, one(caller))
    for call in (caller, callee):
        assert call.ended and call.keys is None
        assert secrets_in(call, keys) == []
        assert call.sas == keys.sas  # the words stay for the log: they give nothing away


def test_a_call_that_ends_while_ringing_drops_its_private_keys() -> None:
    caller = place(HH_A)
    callee = offered(one(caller), HH_A)
    caller.hangup(0.5)
    callee.hangup(0.5)
    for call in (caller, callee):
        assert not [o for o in reachable(call) if isinstance(o, X25519PrivateKey | MLKEM768PrivateKey)]


def test_a_reveal_that_does_not_match_the_commitment_ends_the_call() -> None:
    """F3: the caller cannot change its key after seeing the callee's share."""
    caller = place(HH_A)
    callee = offered(one(caller), HH_A)
    feed(caller, one(callee))
    reveal = one(caller)
    assert isinstance(reveal, CallReveal)
    other = X25519PrivateKey.from_bytes(random.randbytes(32)).public_key().raw
    feed(callee, CallReveal(CALL_ID, other))
    assert callee.end_reason is EndReason.BAD_KEYS and callee.keys is None and callee.sas is None
    told = one(callee)
    assert told == CallSignal(CALL_ID, Signal.BAD_KEYS)
    feed(caller, told)
    assert caller.end_reason is EndReason.BAD_KEYS and caller.keys is None
    # the right reveal, coming late, changes nothing
    feed(callee, reveal)
    assert callee.keys is None


def test_a_callee_that_answers_before_the_reveal_picks_up_once_it_checks() -> None:
    """Auto-answer picks up at once, before the caller has even heard the ringing: the answer goes
    out as soon as the reveal checks, and both ends have the same keys."""
    caller = place(HH_A)
    callee = offered(one(caller), HH_A)
    share = one(callee)
    callee.answer(0.0)
    assert callee.state is CallState.RINGING and not callee.can_answer
    assert callee.messages_to_send() == []
    feed(caller, share)
    feed(callee, one(caller))
    assert callee.state is CallState.ACTIVE and one(callee) == CallAnswer(CALL_ID)
    feed(caller, CallAnswer(CALL_ID))
    assert caller.state is CallState.ACTIVE and caller.keys == callee.keys


def test_a_callee_whose_reveal_never_comes_gives_up() -> None:
    caller = place(HH_A)
    callee = offered(one(caller), HH_A)
    callee.messages_to_send()
    callee.answer(10.0)
    timer = callee.get_timer()
    assert timer is not None and timer <= 10.0 + 5.0
    callee.handle_timer(timer)
    assert callee.end_reason is EndReason.FAILED


def test_bad_shares_end_the_call_with_bad_keys() -> None:
    caller = place(HH_A)
    offer = one(caller)
    assert isinstance(offer, CallOffer)
    callee = offered(offer, HH_A)
    share = one(callee)
    assert isinstance(share, CallRinging)
    # the all-zero X25519 point gives an all-zero secret: refused
    feed(caller, msgspec.structs.replace(share, dh_public=bytes(32)))
    assert caller.end_reason is EndReason.BAD_KEYS
    assert one(caller) == CallSignal(CALL_ID, Signal.BAD_KEYS)
    # an ML-KEM key that fails FIPS 203's modulus check is refused by the callee
    broken = msgspec.structs.replace(offer, kem_public=b"\xff" * len(offer.kem_public))
    refused = offered(broken, HH_A)
    assert refused.end_reason is EndReason.BAD_KEYS


def test_an_answer_before_the_share_is_refused() -> None:
    caller = place(HH_A)
    caller.messages_to_send()
    feed(caller, CallAnswer(CALL_ID))
    assert caller.end_reason is EndReason.FAILED and caller.keys is None


def test_a_share_sent_after_the_reveal_changes_nothing() -> None:
    """F3: the callee's side (a man in the middle) cannot change its share once it saw the reveal."""
    caller = place(HH_A)
    callee = offered(one(caller), HH_A)
    feed(caller, one(callee))
    sas = caller.sas
    one(caller)  # the reveal
    other = offered(decode(encode(place(HH_A).messages_to_send()[0])), HH_A)
    feed(caller, one(other))
    assert caller.sas == sas and caller.messages_to_send() == []


class ManInTheMiddle:
    """Holds a session with A (as B) and one with B (as A) and writes every call message on both legs:
    towards A it answers A's offer, towards B it places its own call, committing with keys it keeps."""

    def __init__(self, a: Call) -> None:
        self.a = a
        self.offer_from_a = one(a)
        assert isinstance(self.offer_from_a, CallOffer)
        self.toward_a = offered(self.offer_from_a, HH_A)  # M answers A's offer as if it were B
        self.dh = X25519PrivateKey.from_bytes(random.randbytes(32))
        self.kem = MLKEM768PrivateKey.from_seed(random.randbytes(64))
        self.offer_for_b = CallOffer(
            CALL_ID, 1, CODEC, commitment(CALL_ID, self.dh.public_key().raw), self.kem.public_key().raw
        )
        self.b = offered(decode(encode(self.offer_for_b)), HH_B)

    def run(self) -> None:
        """The exchange on both legs, in the only order the protocol allows."""
        self.share_from_b = one(self.b)
        assert isinstance(self.share_from_b, CallRinging)
        self.share_for_a = one(self.toward_a)
        assert isinstance(self.share_for_a, CallRinging)
        feed(self.a, self.share_for_a)  # chosen before A's reveal: blind
        self.reveal_from_a = one(self.a)
        assert isinstance(self.reveal_from_a, CallReveal)
        feed(self.toward_a, self.reveal_from_a)
        feed(self.b, CallReveal(CALL_ID, self.dh.public_key().raw))  # the one M committed to


def first_word(words: tuple[str, ...] | None) -> str:
    assert words is not None
    return words[0]


def test_a_man_in_the_middle_matches_the_words_only_by_chance() -> None:
    """F3: a man in the middle who writes every call message on both legs picks its values blind;
    over many calls the two ends' words agree as often as chance says (compared here on the first
    word alone, 8 bits, so chance is visible: 1 in 256), and all four words never."""
    runs, first, whole = 1024, 0, 0
    for _ in range(runs):
        mitm = ManInTheMiddle(place(HH_A))
        mitm.run()
        assert mitm.a.sas is not None and mitm.b.sas is not None
        first += first_word(mitm.a.sas) == first_word(mitm.b.sas)
        whole += mitm.a.sas == mitm.b.sas
    assert whole == 0
    assert first <= 16  # 4 expected; more than 16 happens by chance less than once in 10**5 runs


def test_grinding_after_seeing_the_other_end_is_useless() -> None:
    """F3: the grinding attack itself, on 8 bits (the first word) so the search is quick. Once A's
    reveal is known, M can find a share that would give A the first word B sees; once B's share is
    known, a reveal that would give B the first word A sees. Neither can be used: A has fixed its
    keys and ignores a second share, and B checks the reveal against M's commitment."""
    mitm = ManInTheMiddle(place(HH_A))
    mitm.run()
    a_words, b_words = mitm.a.sas, mitm.b.sas
    assert a_words is not None and b_words is not None and a_words != b_words
    offer, reveal = mitm.offer_from_a, mitm.reveal_from_a
    assert isinstance(offer, CallOffer) and isinstance(reveal, CallReveal)

    # towards A: M searches for a share whose words, with A's reveal, start like B's
    kem_secret, ciphertext = MLKEM768().encapsulate(offer.kem_public)
    a_public = X25519PublicKey.from_bytes(reveal.dh_public)
    found: CallRinging | None = None
    for _ in range(256 * 40):
        dh = X25519PrivateKey.from_bytes(random.randbytes(32))
        share = CallRinging(CALL_ID, 2, dh.public_key().raw, ciphertext)
        transcript = Transcript(
            HH_A, CALL_ID, 1, 2, offer.commitment, offer.kem_public, share.dh_public, ciphertext,
            reveal.dh_public,
        )  # fmt: skip
        if first_word(derive(transcript, dh.exchange(a_public), kem_secret).sas) == first_word(b_words):
            found = share
            break
    assert found is not None, "an 8-bit match is found offline in a few hundred tries"
    feed(mitm.a, found)
    assert mitm.a.sas == a_words and mitm.a.state is CallState.RINGING and mitm.a.messages_to_send() == []

    # towards B: M searches for a reveal whose words, with B's share, start like A's (B again, on a
    # fresh call from M with the same committed offer: B is not yet bound to a reveal)
    b_again = offered(decode(encode(mitm.offer_for_b)), HH_B)
    share_again = one(b_again)
    assert isinstance(share_again, CallRinging)
    b_public = X25519PublicKey.from_bytes(share_again.dh_public)
    kem_b = mitm.kem.decapsulate(share_again.kem_ciphertext)
    chosen: bytes | None = None
    for _ in range(256 * 40):
        dh = X25519PrivateKey.from_bytes(random.randbytes(32))
        transcript = Transcript(
            HH_B, CALL_ID, 1, 2, mitm.offer_for_b.commitment, mitm.offer_for_b.kem_public,
            share_again.dh_public, share_again.kem_ciphertext, dh.public_key().raw,
        )  # fmt: skip
        if first_word(derive(transcript, dh.exchange(b_public), kem_b).sas) == first_word(a_words):
            chosen = dh.public_key().raw
            break
    assert chosen is not None, "an 8-bit match is found offline in a few hundred tries"
    feed(b_again, CallReveal(CALL_ID, chosen))
    assert b_again.end_reason is EndReason.BAD_KEYS and b_again.sas is None
