"""The session's states against a slow reference model of the table in docs/protocol.md §4.

Two sessions are driven through any sequence of deliveries (whole, corrupted or lost), ends of
stream, local closes and the handshake deadline. A model that knows nothing but the rows of the
table, scanned one by one, predicts each side's state after every step; the sessions must agree
with it, and report ``HandshakeCompleted`` exactly when they become established.
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hotline.proto.carriermode import CarrierSetting
from hotline.proto.events import HandshakeCompleted
from hotline.proto.suites import CNSA2
from tests.support.pair import SessionPair

#: (role, from, on, to): docs/protocol.md §4, one row per line; "*" is any role. ``good`` is the
#: peer's next bytes as sent, ``bad`` anything that fails to check, ``close`` good bytes that end
#: with the peer's ``Close``.
ROWS = [
    ("responder", "await-initiation", "good", "await-confirmation"),
    ("responder", "await-initiation", "bad", "dropped"),
    ("responder", "await-confirmation", "good", "established"),
    ("responder", "await-confirmation", "close", "closed"),  # confirmed, then closed at once
    ("responder", "await-confirmation", "bad", "dropped"),
    ("initiator", "await-response", "good", "established"),
    ("initiator", "await-response", "bad", "closed"),
    ("*", "established", "good", "established"),
    ("*", "established", "close", "closed"),
    ("*", "established", "bad", "closed"),
    ("*", "dropped", "good", "dropped"),
    ("*", "dropped", "bad", "dropped"),
    ("*", "dropped", "close", "dropped"),
    ("*", "closed", "good", "closed"),
    ("*", "closed", "bad", "closed"),
    ("*", "closed", "close", "closed"),
    # ends of stream, local closes and the handshake deadline
    ("*", "await-initiation", "eof", "closed"),
    ("*", "await-confirmation", "eof", "closed"),
    ("*", "await-response", "eof", "closed"),
    ("*", "established", "eof", "closed"),
    ("*", "dropped", "eof", "closed"),
    ("*", "closed", "eof", "closed"),
    ("*", "await-initiation", "deadline", "closed"),
    ("*", "await-confirmation", "deadline", "closed"),
    ("*", "await-response", "deadline", "closed"),
    ("*", "dropped", "deadline", "closed"),
    ("*", "established", "deadline", "established"),
    ("*", "closed", "deadline", "closed"),
]


def reference(role: str, state: str, on: str) -> str:
    for row_role, row_from, row_on, row_to in ROWS:
        if row_role in (role, "*") and row_from == state and row_on == on:
            return row_to
    raise AssertionError(f"no row for {role} {state} {on}")


class Model:
    """Each side's state, whether its next bytes carry its ``Close``, and whether a lost chunk
    put its direction out of step (every later record then fails to check)."""

    def __init__(self) -> None:
        self.role = {"i": "initiator", "r": "responder"}
        self.state = {"i": "await-response", "r": "await-initiation"}
        self.closing = {"i": False, "r": False}
        self.out_of_step = {"i": False, "r": False}
        self.established_once = {"i": False, "r": False}

    def apply(self, side: str, on: str) -> None:
        before = self.state[side]
        after = reference(self.role[side], before, on)
        # an authenticated side that ends for a reason of its own tells its peer
        if before == "established" and after == "closed" and on == "bad":
            self.closing[side] = True
        self.state[side] = after
        if after == "established" or (before == "await-confirmation" and on == "close"):
            self.established_once[side] = True

    def close_locally(self, side: str) -> None:
        if self.state[side] == "established":
            self.closing[side] = True
        if self.state[side] != "closed":
            self.state[side] = "closed"


#: Mostly deliveries, so that most runs get past the handshake before something ends them.
ops = st.lists(
    st.tuples(
        st.sampled_from(["deliver"] * 6 + ["corrupt", "lose", "eof", "close", "deadline"]),
        st.sampled_from(["i", "r"]),
    ),
    max_size=30,
)


@given(st.integers(0, 5), ops)
@settings(max_examples=400, deadline=None)
def test_states_follow_the_reference_table(handshake_steps: int, more: list[tuple[str, str]]) -> None:
    run(handshake_steps, more)


@given(st.integers(0, 5), ops)
@settings(max_examples=200, deadline=None)
def test_states_in_carrier_mode_follow_the_same_table(
    handshake_steps: int, more: list[tuple[str, str]]
) -> None:
    # carrier mode changes what the records hold and when they leave, never the states (§14.5)
    run(handshake_steps, more, carrier=CarrierSetting(cell_size=512, interval=0.5))


def run(handshake_steps: int, more: list[tuple[str, str]], **config: object) -> None:
    # start from each point of a clean handshake as often as from the beginning
    steps = [("deliver", "ir"[n % 2]) for n in range(handshake_steps)] + more
    pair = SessionPair(**config)
    sessions = {"i": pair.i, "r": pair.r}
    model = Model()
    deadline_passed = False
    for op, side in steps:
        other = "r" if side == "i" else "i"
        if op in ("deliver", "corrupt", "lose"):
            data = bytearray(sessions[side].data_to_send())
            if not data:
                continue
            carries_close, model.closing[side] = model.closing[side], False
            if op == "lose":
                model.out_of_step[side] = True
                continue
            if op == "corrupt":
                data[3] ^= 0x01  # the first byte of the first record's body: it can never check
            bad = op == "corrupt" or model.out_of_step[side]
            sessions[other].receive_data(bytes(data), pair.now)
            if bad:
                model.out_of_step[side] = True  # the receiver dropped or ended: nothing later counts
            model.apply(other, "bad" if bad else "close" if carries_close else "good")
        elif op == "eof":
            sessions[side].receive_data(b"", pair.now)
            model.apply(side, "eof")
        elif op == "close":
            sessions[side].close(pair.now)
            model.close_locally(side)
        elif not deadline_passed:  # the handshake deadline, once (long before any idle timeout)
            deadline_passed = True
            pair.now += pair.ca.handshake_timeout + 1
            for name in ("i", "r"):
                sessions[name].handle_timer(pair.now)
                model.apply(name, "deadline")
        pair.drain()
        for name in ("i", "r"):
            event(f"{name} {model.state[name]}")
            assert sessions[name].state.value == model.state[name], (name, op, side)
    for name in ("i", "r"):
        completed = [e for e in pair.events[name] if isinstance(e, HandshakeCompleted)]
        assert len(completed) == int(model.established_once[name]), name


@given(st.integers(0, 5), ops)
@settings(max_examples=150, deadline=None)
def test_states_under_each_line_s_profile_follow_the_same_table(
    handshake_steps: int, more: list[tuple[str, str]]
) -> None:
    # a line's profile changes the primitives, never the states (§3.8): cnsa2 lines, decided per line
    run(handshake_steps, more, suite_for=lambda _key: CNSA2)
