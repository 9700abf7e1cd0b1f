"""A responder's choice of profile, against the rule of docs/protocol.md §3.8.

Each end's line has a profile (``standard`` or ``cnsa2``); the first record is delivered as sent or
with one byte changed anywhere, cut short or lengthened. The rule: the responder answers exactly
when the record is intact and the two profiles agree; it reports a mismatch (naming the initiator
and both profiles) exactly when the record is intact and they disagree; anything else is a silent
drop with no report. When it answers, the session completes under the shared profile.
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hotline.proto.events import HandshakeCompleted, ProfileMismatch
from hotline.proto.states import SessionState
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.support.pair import SessionPair

profiles = st.sampled_from([STANDARD, CNSA2])
damage = st.one_of(
    st.just(("intact", 0)),
    st.tuples(st.just("flip"), st.integers(0, 10_000)),
    st.tuples(st.just("cut"), st.integers(1, 200)),
    st.tuples(st.just("grow"), st.integers(1, 200)),
)


@given(profiles, profiles, damage)
@settings(max_examples=120, deadline=None)
def test_the_responder_answers_only_its_line_s_profile(
    initiator: Suite, responder: Suite, harm: tuple[str, int]
) -> None:
    seen: list[ProfileMismatch] = []
    pair = SessionPair(
        initiator_config={"suite_for": lambda _key: initiator},
        responder_config={"suite_for": lambda _key: responder, "on_profile_mismatch": seen.append},
    )
    first = bytearray(pair.i.data_to_send())
    kind, n = harm
    if kind == "flip":
        first[n % len(first)] ^= 1 << (n % 8)
    elif kind in ("cut", "grow"):
        # a whole record whose body is shorter or longer than the profile's initiation
        body = first[3:-n] if kind == "cut" else first[3:] + bytes(n)
        first = bytearray((len(body) + 1).to_bytes(2, "big") + first[2:3] + body)
    pair.r.receive_data(bytes(first), pair.now)
    intact = kind == "intact"
    event(f"{initiator.profile}->{responder.profile} {kind}")
    answered = bool(pair.r.data_to_send(flush=False) or pair.r.state is SessionState.AWAIT_CONFIRMATION)
    if intact and initiator == responder:
        assert pair.r.state is SessionState.AWAIT_CONFIRMATION and answered and seen == []
    elif intact:
        assert pair.r.state is SessionState.DROPPED and not answered
        assert seen == [ProfileMismatch(pair.a.public, initiator.profile, responder.profile)]
        assert pair.r.mismatch == seen[0]
    else:
        # a flip in the length field may leave the record waiting for its rest (or cut it off);
        # anything else that fails is dropped: never a report
        assert pair.r.state in (SessionState.DROPPED, SessionState.AWAIT_INITIATION) and seen == []
        assert pair.r.mismatch is None


@given(profiles)
@settings(max_examples=10, deadline=None)
def test_an_answered_initiation_completes_under_the_shared_profile(shared: Suite) -> None:
    pair = SessionPair(suite_for=lambda _key: shared)
    pair.roundtrip_until_idle()
    for name, session in (("i", pair.i), ("r", pair.r)):
        (done,) = [e for e in pair.take(name) if isinstance(e, HandshakeCompleted)]
        assert done.protocol_name == shared.protocol_name == session.protocol_name
