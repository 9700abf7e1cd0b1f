"""Fuzz target ``linekeys``: opening sealed line keys, with the right and the wrong identity.

Input: ``mode:u8 || payload``, where ``mode % 4`` picks what ``payload`` is:

* 0: a sealed line key of a standard line, as carried from ALPHA to BRAVO;
* 1: a sealed line key *body*, which we sign with ALPHA's key before opening. A forger cannot do
  this, but it lets mutations get past the signature to the body's checks and the HPKE open.
* 2 and 3: the same for a cnsa2 line, between the stations with cnsa2 keys (ALPHA2 to BRAVO2; the
  body of mode 3 is signed with ALPHA2's Ed25519 + ML-DSA-87 key).

Each is opened by the recipient with the sender's card (the right way round), by CHARLIE with the
sender's card (the wrong recipient) and by the recipient with CHARLIE's card (the wrong sender), for
the line's profile; and never for a line of the other profile.

Contract (module docstring of :mod:`hotline.proto.linekeys`): every refusal is a
:class:`LineKeyError`; only the right recipient with the right sender's card opens anything; what
opens is a 32-byte key from ALPHA to BRAVO with a valid label, and an unmodified blob from the
corpus opens to the line key ``make_corpus.py`` sealed.
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    import msgspec

    from fuzz import fixtures
    from hotline.proto.identity import text_problem
    from hotline.proto.linekeys import (
        LINE_KEY_CONTEXT,
        LINE_KEY_CONTEXT_CNSA2,
        LINE_KEY_LEN,
        LineKeyError,
        open_line_key,
    )


def _refused(sealed: bytes, *, by: object, sender: object, profile: str = "standard") -> bool:
    try:
        open_line_key(sealed, by, sender, profile)  # type: ignore[arg-type]
    except LineKeyError:
        return True
    return False


def test_one_input(data: bytes) -> None:
    """Check the line key contract on one input (see the module docstring)."""
    if not data:
        return
    mode, payload = data[0] % 4, data[1:]
    profile = "standard" if mode < 2 else "cnsa2"
    alpha, bravo, charlie = (
        (fixtures.ALPHA, fixtures.BRAVO, fixtures.CHARLIE)
        if profile == "standard"
        else (fixtures.ALPHA2, fixtures.BRAVO2, fixtures.CHARLIE2)
    )
    if mode in (0, 2):
        sealed = payload
    elif mode == 1:
        signature = alpha.signing_key.sign(payload, context=LINE_KEY_CONTEXT)
        sealed = msgspec.msgpack.encode([payload, signature])
    else:
        signature = alpha.cnsa2_keys().signing_key.sign(payload, context=LINE_KEY_CONTEXT_CNSA2)
        sealed = msgspec.msgpack.encode([payload, signature])
    alpha_card, charlie_card = fixtures.card(alpha), fixtures.card(charlie)
    try:
        line_key = open_line_key(sealed, bravo, alpha_card, profile)
    except LineKeyError:
        line_key = None
    if line_key is not None:
        assert len(line_key.key) == LINE_KEY_LEN and line_key.profile == profile
        assert text_problem(line_key.label, what="label", max_len=64) is None
        assert line_key.sender == alpha.fingerprint_for(profile)
        assert line_key.recipient == bravo.fingerprint_for(profile)
        if mode in (0, 2):  # only make_corpus.py holds ALPHA's signing keys, and it seals LINE_KEY
            assert line_key.key == fixtures.LINE_KEY and line_key.label in fixtures.LINE_LABELS
        # what opens for a line of one profile never opens for one of the other (same stations)
        other = "cnsa2" if profile == "standard" else "standard"
        assert _refused(sealed, by=fixtures.BRAVO2, sender=fixtures.card(fixtures.ALPHA2), profile=other), (
            "opened for a line of the other profile"
        )
    assert _refused(sealed, by=charlie, sender=alpha_card, profile=profile), "opened by the wrong recipient"
    assert _refused(sealed, by=bravo, sender=charlie_card, profile=profile), (
        "opened with the wrong sender's card"
    )


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
