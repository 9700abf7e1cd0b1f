"""Fuzz target ``cards``: station cards, binary and armored.

Input: ``mode:u8 || payload``, where ``mode % 4`` picks what ``payload`` is:

* 0: a binary card, to :func:`decode_card`;
* 1: armored text (read as Latin-1, so every byte is a character), to :func:`dearmor_card`;
* 2: a card *body*, which we sign with ALPHA's key and wrap as a card before decoding. A forger
  cannot do this, but it lets mutations of a body that names ALPHA's verify key get past the
  signature, so the checks and the canonical re-encoding behind it are fuzzed too.
* 3: a version 2 card body, which we sign with both of ALPHA2's keys (Ed25519 + ML-DSA-65 and
  Ed25519 + ML-DSA-87) and wrap as a version 2 card before decoding, for the same reason.

Contract (module docstring of :mod:`hotline.proto.cards`): every refusal is a :class:`CardError`; a
card that is accepted verifies, and re-encodes to exactly the bytes it was read from (a card has one
valid byte string).
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    import msgspec

    from fuzz import fixtures
    from hotline.proto.cards import (
        CARD_SIGNATURE_CONTEXT,
        CARD_V2_CNSA2_SIGNATURE_CONTEXT,
        CARD_V2_SIGNATURE_CONTEXT,
        CardError,
        dearmor_card,
        decode_card,
        encode_card,
    )


def test_one_input(data: bytes) -> None:
    """Check the card decoders' contract on one input (see the module docstring)."""
    if not data:
        return
    mode, payload = data[0] % 4, data[1:]
    try:
        if mode == 0:
            card = decode_card(payload)
            assert encode_card(card) == payload, "a card decoded from bytes that are not its encoding"
        elif mode == 1:
            card = dearmor_card(payload.decode("latin-1"))
            assert decode_card(encode_card(card)) == card
        elif mode == 2:
            signature = fixtures.ALPHA.signing_key.sign(payload, context=CARD_SIGNATURE_CONTEXT)
            signed = msgspec.msgpack.encode([payload, signature])
            card = decode_card(signed)
            assert card.verify_key == fixtures.ALPHA.public().verify_key
            assert encode_card(card) == signed, "a card decoded from bytes that are not its encoding"
        else:
            alpha = fixtures.ALPHA2
            signature = alpha.signing_key.sign(payload, context=CARD_V2_SIGNATURE_CONTEXT)
            signature87 = alpha.cnsa2_keys().signing_key.sign(
                payload, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT
            )
            signed = msgspec.msgpack.encode([payload, signature, signature87])
            card = decode_card(signed)
            assert card.version == 2 and card.cnsa2 is not None
            assert card.verify_key == alpha.public().verify_key  # what the signatures bind
            assert card.cnsa2.verify_key == alpha.cnsa2_keys().public.verify_key
            assert encode_card(card) == signed, "a card decoded from bytes that are not its encoding"
    except CardError:
        return
    card.verify()


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
