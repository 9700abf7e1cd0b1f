"""F5: the ``Withhold`` line message (docs/protocol.md §10.3), strictly decoded."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.proto.linemsg import MAX_RETRY_AFTER, HoldReason, LineMessageError, Withhold, decode, encode

#: What msgpack can carry.
LOW, HIGH = -(2**63), 2**64 - 1

withholds = st.builds(
    Withhold,
    held_seq=st.integers(0, 2**63 - 1),
    reason=st.sampled_from([int(r) for r in HoldReason]),
    retry_after=st.integers(0, MAX_RETRY_AFTER),
)


@given(withholds)
def test_F5_withhold_roundtrips(message: Withhold) -> None:
    assert decode(encode(message)) == message


@given(
    st.one_of(
        st.tuples(st.integers(LOW, -1), st.just(1), st.just(10)),
        st.tuples(
            st.just(5),
            st.integers(LOW, HIGH).filter(lambda r: r not in {int(x) for x in HoldReason}),
            st.just(1),
        ),
        st.tuples(st.just(5), st.just(1), st.integers(LOW, -1)),
        st.tuples(st.just(5), st.just(1), st.integers(MAX_RETRY_AFTER + 1, HIGH)),
    )
)
def test_F5_a_withhold_out_of_range_is_refused(fields: tuple[int, int, int]) -> None:
    """F5: a peer cannot make us wait for ever, nor name a quota that does not exist."""
    data = msgspec.msgpack.encode([9, *fields])
    with pytest.raises(LineMessageError):
        decode(data)


@given(st.lists(st.one_of(st.integers(LOW, HIGH), st.binary(max_size=4), st.text(max_size=4)), max_size=5))
def test_F5_a_malformed_withhold_is_a_line_message_error(fields: list[object]) -> None:
    """Anything that is not a well-formed Withhold raises LineMessageError, never anything else."""
    data = msgspec.msgpack.encode([9, *fields])
    try:
        message = decode(data)
    except LineMessageError:
        return
    assert isinstance(message, Withhold)
