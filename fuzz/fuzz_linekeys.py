"""Fuzz target ``linekeys``: opening sealed line keys, with the right and the wrong identity.

Input: ``mode:u8 || payload``, where ``mode % 2`` picks what ``payload`` is:

* 0: a sealed line key, as carried from ALPHA to BRAVO;
* 1: a sealed line key *body*, which we sign with ALPHA's key before opening. A forger cannot do
  this, but it lets mutations get past the signature to the body's checks and the HPKE open.

Each is opened by BRAVO with ALPHA's card (the right way round), by CHARLIE with ALPHA's card (the
wrong recipient) and by BRAVO with CHARLIE's card (the wrong sender).

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
    from hotline.proto.linekeys import LINE_KEY_CONTEXT, LINE_KEY_LEN, LineKeyError, open_line_key


def _refused(sealed: bytes, *, by: object, sender: object) -> bool:
    try:
        open_line_key(sealed, by, sender)  # type: ignore[arg-type]
    except LineKeyError:
        return True
    return False


def test_one_input(data: bytes) -> None:
    """Check the line key contract on one input (see the module docstring)."""
    if not data:
        return
    mode, payload = data[0] % 2, data[1:]
    if mode == 0:
        sealed = payload
    else:
        signature = fixtures.ALPHA.signing_key.sign(payload, context=LINE_KEY_CONTEXT)
        sealed = msgspec.msgpack.encode([payload, signature])
    alpha_card, charlie_card = fixtures.card(fixtures.ALPHA), fixtures.card(fixtures.CHARLIE)
    try:
        line_key = open_line_key(sealed, fixtures.BRAVO, alpha_card)
    except LineKeyError:
        line_key = None
    if line_key is not None:
        assert len(line_key.key) == LINE_KEY_LEN
        assert text_problem(line_key.label, what="label", max_len=64) is None
        assert line_key.sender == fixtures.ALPHA.fingerprint
        assert line_key.recipient == fixtures.BRAVO.fingerprint
        if mode == 0:  # only make_corpus.py holds ALPHA's signing key, and it seals LINE_KEY
            assert line_key.key == fixtures.LINE_KEY and line_key.label in fixtures.LINE_LABELS
    assert _refused(sealed, by=fixtures.CHARLIE, sender=alpha_card), "opened by the wrong recipient"
    assert _refused(sealed, by=fixtures.BRAVO, sender=charlie_card), "opened with the wrong sender's card"


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
