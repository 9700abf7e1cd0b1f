"""The call messages that carry a call's key exchange (F3): exact field sizes, strictly decoded."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.linemsg import (
    CALL_COMMITMENT_LEN,
    CALL_DH_LEN,
    CALL_ID_LEN,
    CALL_KEM_CIPHERTEXT_LEN,
    CALL_KEM_PUBLIC_LEN,
    CallAnswer,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessageError,
    Signal,
    decode,
    encode,
)


def exactly(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


INDEX = st.integers(1, 2**32 - 1)
call_messages = st.one_of(
    st.builds(
        CallOffer,
        call_id=exactly(CALL_ID_LEN),
        index=INDEX,
        codec=st.just("opus/48000/1/20"),
        commitment=exactly(CALL_COMMITMENT_LEN),
        kem_public=exactly(CALL_KEM_PUBLIC_LEN),
    ),
    st.builds(
        CallRinging,
        call_id=exactly(CALL_ID_LEN),
        index=INDEX,
        dh_public=exactly(CALL_DH_LEN),
        kem_ciphertext=exactly(CALL_KEM_CIPHERTEXT_LEN),
    ),
    st.builds(CallReveal, call_id=exactly(CALL_ID_LEN), dh_public=exactly(CALL_DH_LEN)),
    st.builds(CallAnswer, call_id=exactly(CALL_ID_LEN)),
    st.builds(CallSignal, call_id=exactly(CALL_ID_LEN), signal=st.sampled_from(list(Signal)).map(int)),
)


@settings(max_examples=200)
@given(call_messages)
def test_call_messages_roundtrip(message: Any) -> None:
    assert decode(encode(message)) == message


@settings(max_examples=300)
@given(call_messages, st.data())
def test_any_byte_field_of_another_length_is_refused(message: Any, data: st.DataObject) -> None:
    raw: list[Any] = msgspec.msgpack.decode(encode(message))
    fields = [i for i, value in enumerate(raw) if isinstance(value, bytes)]
    at = data.draw(st.sampled_from(fields))
    size = data.draw(st.integers(0, 1300).filter(lambda n: n != len(raw[at])))
    raw[at] = bytes(size)
    try:
        decode(msgspec.msgpack.encode(raw))
    except LineMessageError:
        return
    raise AssertionError(f"a {size}-byte field {at} of {type(message).__name__} was accepted")


def test_the_retired_ringing_signal_is_refused() -> None:
    raw = msgspec.msgpack.encode([5, bytes(CALL_ID_LEN), 0])
    try:
        decode(raw)
    except LineMessageError:
        return
    raise AssertionError("signal 0 (RINGING before calls had their own key exchange) was accepted")
