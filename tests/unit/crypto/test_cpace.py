"""CPace (:mod:`hotline.crypto.cpace`) against the draft's own vectors, and its properties.

The vectors are draft-irtf-cfrg-cpace-21's for CPACE-X25519-SHA512 (``tests/vectors/cpace/``): the
string encodings, every intermediate value of one exchange in both settings, and the low-order points
every implementation must abort on. The properties: two parties with the same inputs agree; any
difference in password, channel identifier, session id or associated data gives different keys;
whatever arrives as the peer's message gives a key or :class:`CryptoError`, never another exception.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hotline.crypto.cpace import (
    DSI,
    ISK_LEN,
    MESSAGE_LEN,
    CPace,
    Role,
    calculate_generator,
    generator_string,
    intermediate_session_key,
    lv_cat,
    map_to_curve_elligator2,
    o_cat,
    prepend_len,
    scalar_mult_vfy,
    transcript_ir,
    transcript_oc,
)
from hotline.crypto.errors import CryptoError
from tests.support.vectors import load_json

VECTORS: dict[str, Any] = load_json("cpace", "cpace-x25519-sha512.json")
EXCHANGE: dict[str, str] = VECTORS["exchange"]
LOW_ORDER: list[dict[str, Any]] = VECTORS["low_order"]["cases"]
P = 2**255 - 19
A = 486662


def h(name: str) -> bytes:
    return bytes.fromhex(EXCHANGE[name])


def scalars(*values: bytes) -> Any:
    """An entropy function handing out ``values`` in turn."""
    queue = list(values)
    return lambda n: queue.pop(0)[:n]


def party(role: Role, prs: bytes, scalar: bytes, **inputs: bytes) -> CPace:
    ci, sid = inputs.get("ci", b"ci"), inputs.get("sid", b"")
    ada, adb = inputs.get("ada", b"A"), inputs.get("adb", b"B")
    ours, theirs = (ada, adb) if role is Role.INITIATOR else (adb, ada)
    return CPace(role, prs, ci=ci, sid=sid, ad_ours=ours, ad_theirs=theirs, entropy=scalars(scalar))


# -- the draft's vectors ------------------------------------------------------------------------------


def test_the_vector_file_holds_every_case() -> None:
    assert len(LOW_ORDER) == 12 and sum(case["abort"] for case in LOW_ORDER) == 7
    assert len(VECTORS["strings"]["prepend_len"]) == 4


def test_string_functions() -> None:
    strings = VECTORS["strings"]
    for case in strings["prepend_len"]:
        if "data" in case:
            assert prepend_len(bytes.fromhex(case["data"])) == bytes.fromhex(case["result"])
        else:
            data = bytes(range(case["data_range"]))
            assert prepend_len(data) == bytes.fromhex(case["result_prefix"]) + data
    lv = strings["lv_cat"]
    assert lv_cat(*(bytes.fromhex(p) for p in lv["parts"])) == bytes.fromhex(lv["result"])
    for case in strings["o_cat"]:
        assert o_cat(bytes.fromhex(case["first"]), bytes.fromhex(case["second"])) == bytes.fromhex(
            case["result"]
        )
    for name, function in (("transcript_ir", transcript_ir), ("transcript_oc", transcript_oc)):
        for case in strings[name]:
            args = (bytes.fromhex(case[k]) for k in ("Ya", "ADa", "Yb", "ADb"))
            assert function(*args) == bytes.fromhex(case["result"])


def test_the_generator() -> None:
    prs, ci, sid = h("PRS"), h("CI"), h("sid")
    assert generator_string(prs, ci, sid) == h("generator_string")
    assert calculate_generator(prs, ci, sid) == h("g")
    # the steps in between: the field element the hash decodes to, then the map
    u = int.from_bytes(h("decoded_field_element"), "little")
    assert map_to_curve_elligator2(u).to_bytes(32, "little") == h("g")


def test_the_messages_k_and_isk_initiator_responder() -> None:
    a = CPace(
        Role.INITIATOR,
        h("PRS"),
        ci=h("CI"),
        sid=h("sid"),
        ad_ours=h("ADa"),
        ad_theirs=h("ADb"),
        entropy=scalars(h("ya")),
    )
    b = CPace(
        Role.RESPONDER,
        h("PRS"),
        ci=h("CI"),
        sid=h("sid"),
        ad_ours=h("ADb"),
        ad_theirs=h("ADa"),
        entropy=scalars(h("yb")),
    )
    assert a.message == h("Ya") and b.message == h("Yb")
    assert scalar_mult_vfy(h("ya"), h("Yb")) == scalar_mult_vfy(h("yb"), h("Ya")) == h("K")
    assert transcript_ir(h("Ya"), h("ADa"), h("Yb"), h("ADb")) == h("transcript_ir")
    assert lv_cat(DSI + b"_ISK", h("sid"), h("K")) + h("transcript_ir") == h("isk_input_ir")
    assert a.finish(b.message) == b.finish(a.message) == h("ISK_IR")


def test_isk_of_the_symmetric_setting() -> None:
    # pairing does not use it; the draft's vector checks o_cat and the ISK hash once more
    transcript = transcript_oc(h("Ya"), h("ADa"), h("Yb"), h("ADb"))
    assert transcript == h("transcript_oc")
    assert lv_cat(DSI + b"_ISK", h("sid"), h("K")) + transcript == h("isk_input_oc")
    assert intermediate_session_key(h("sid"), h("K"), transcript) == h("ISK_SY")


@pytest.mark.parametrize("case", LOW_ORDER, ids=lambda c: c["name"])
def test_low_order_points(case: dict[str, Any]) -> None:
    s, u, q = bytes.fromhex(VECTORS["low_order"]["s"]), bytes.fromhex(case["u"]), bytes.fromhex(case["q"])
    if case["abort"]:
        assert q == bytes(32)
        with pytest.raises(CryptoError):
            scalar_mult_vfy(s, u)
        # in a message from either party it ends the run
        for role in Role:
            with pytest.raises(CryptoError):
                party(role, b"pw", s).finish(u)
    else:
        assert scalar_mult_vfy(s, u) == q


# -- properties -----------------------------------------------------------------------------------------

SCALAR = st.binary(min_size=32, max_size=32)
SHORT = st.binary(max_size=200)
ABORTING = [bytes.fromhex(case["u"]) for case in LOW_ORDER if case["abort"]]


@settings(max_examples=60, deadline=None)
@given(prs=SHORT, ci=SHORT, sid=SHORT, ada=SHORT, adb=SHORT, ya=SCALAR, yb=SCALAR)
def test_both_parties_agree(
    prs: bytes, ci: bytes, sid: bytes, ada: bytes, adb: bytes, ya: bytes, yb: bytes
) -> None:
    inputs = {"ci": ci, "sid": sid, "ada": ada, "adb": adb}
    a, b = party(Role.INITIATOR, prs, ya, **inputs), party(Role.RESPONDER, prs, yb, **inputs)
    assert len(a.message) == len(b.message) == MESSAGE_LEN
    assume(a.message != b.message)  # scalars equal once clamped: refused as a reflection
    isk = a.finish(b.message)
    assert isk == b.finish(a.message) and len(isk) == ISK_LEN


@settings(max_examples=60, deadline=None)
@given(
    prs=SHORT,
    other=SHORT,
    which=st.sampled_from(["prs", "ci", "sid", "ada", "adb"]),
    ya=SCALAR,
    yb=SCALAR,
)
def test_any_difference_in_the_inputs_gives_different_keys(
    prs: bytes, other: bytes, which: str, ya: bytes, yb: bytes
) -> None:
    base = {"ci": b"ci", "sid": b"sid", "ada": b"A", "adb": b"B"}
    theirs = dict(base)
    prs_b = prs
    if which == "prs":
        prs_b = other
    else:
        theirs[which] = other
    if (prs_b, theirs) == (prs, base):
        return  # hypothesis drew the same value: nothing differs
    a, b = party(Role.INITIATOR, prs, ya, **base), party(Role.RESPONDER, prs_b, yb, **theirs)
    assume(a.message != b.message)
    assert a.finish(b.message) != b.finish(a.message)


@settings(max_examples=200, deadline=None)
@given(message=st.one_of(st.binary(max_size=40), st.binary(min_size=32, max_size=32)), ya=SCALAR)
def test_any_peer_message_gives_a_key_or_crypto_error(message: bytes, ya: bytes) -> None:
    pake = party(Role.INITIATOR, b"7-hobby-beach-donkey", ya)
    try:
        isk = pake.finish(message)
    except CryptoError:
        assert len(message) != MESSAGE_LEN or message == pake.message or scalar_is_zero(ya, message)
    else:
        assert len(message) == MESSAGE_LEN and len(isk) == ISK_LEN


def scalar_is_zero(scalar: bytes, point: bytes) -> bool:
    try:
        scalar_mult_vfy(scalar, point)
    except CryptoError:
        return True
    return False


@settings(max_examples=60, deadline=None)
@given(point=st.sampled_from(ABORTING), flip_top_bit=st.booleans(), ya=SCALAR, role=st.sampled_from(Role))
def test_low_order_messages_always_give_crypto_error(
    point: bytes, flip_top_bit: bool, ya: bytes, role: Role
) -> None:
    # bit 255 is ignored by X25519, so setting it must not slip a low-order point through
    if flip_top_bit:
        point = point[:31] + bytes([point[31] ^ 0x80])
    with pytest.raises(CryptoError):
        party(role, b"pw", ya).finish(point)


@settings(max_examples=200, deadline=None)
@given(u=st.integers(min_value=0, max_value=P - 1))
def test_the_map_lands_on_the_curve(u: int) -> None:
    x = map_to_curve_elligator2(u)
    assert 0 <= x < P
    # x is the u-coordinate of a point of Curve25519: x^3 + A x^2 + x is a square (zero included)
    assert pow((x**3 + A * x * x + x) % P, (P - 1) // 2, P) in (0, 1)
    # Elligator 2 depends on u^2 only
    assert map_to_curve_elligator2((P - u) % P) == x


def test_a_reflected_message_and_a_second_finish_are_refused() -> None:
    pake = party(Role.INITIATOR, b"pw", bytes(range(32)))
    with pytest.raises(CryptoError):
        pake.finish(pake.message)
    a, b = party(Role.INITIATOR, b"pw", bytes([1]) * 32), party(Role.RESPONDER, b"pw", bytes([2]) * 32)
    a.finish(b.message)
    with pytest.raises(CryptoError):
        a.finish(b.message)


def test_fresh_scalars_by_default() -> None:
    first = CPace(Role.INITIATOR, b"pw", ci=b"", sid=b"", ad_ours=b"", ad_theirs=b"")
    second = CPace(Role.INITIATOR, b"pw", ci=b"", sid=b"", ad_ours=b"", ad_theirs=b"")
    assert first.message != second.message


def test_the_roles_matter() -> None:
    # two initiators with the same inputs order the transcript differently, so they do not agree
    a, b = party(Role.INITIATOR, b"pw", bytes([1]) * 32), party(Role.INITIATOR, b"pw", bytes([2]) * 32)
    assert a.finish(b.message) != b.finish(a.message)
