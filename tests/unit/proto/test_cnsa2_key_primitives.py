"""The cnsa2 key path makes no ChaCha20, BLAKE2 or ML-KEM-768 operation.

With the identities and cards already made (a version 2 card holds the standard keys too, and reading
one checks its ML-KEM-768 key), everything a ``cnsa2`` line does with the keys runs with those
primitives made to raise: its key digests and fingerprints, its safety number, checking the card's
signatures, sealing, signing, checking and opening its line key. The same calls for a ``standard``
line trip the guard, so it is not vacuous.
"""

from __future__ import annotations

import pytest

from hotline.proto.cards import issue_card
from hotline.proto.linekeys import create_line_key, open_line_key
from hotline.proto.safety import safety_number
from tests.support.identities import fixed_cnsa2_identity

PARIS = fixed_cnsa2_identity("Paris", 1)
MOSCOW = fixed_cnsa2_identity("Moscow", 11)
PARIS_CARD = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:4433"], created_at=2)


def _line(profile: str) -> None:
    assert PARIS.key_digest_for(profile) == PARIS_CARD.key_digest_for(profile)
    assert str(MOSCOW_CARD.fingerprint_for(profile)) == str(MOSCOW.fingerprint_for(profile))
    number = safety_number(PARIS_CARD, MOSCOW_CARD, profile)
    assert number == safety_number(MOSCOW.public(), PARIS.public(), profile)
    PARIS_CARD.verify()
    MOSCOW_CARD.verify()
    line_key, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label="paris-moscow", created_at=5, profile=profile
    )
    assert open_line_key(sealed, MOSCOW, PARIS_CARD, profile) == line_key


@pytest.mark.usefixtures("standard_primitives_raise")
def test_the_cnsa2_key_path_makes_no_chacha_blake2_or_mlkem768_call() -> None:
    _line("cnsa2")


@pytest.mark.usefixtures("standard_primitives_raise")
@pytest.mark.parametrize(
    "call",
    [
        lambda: PARIS.key_digest_for("standard"),
        lambda: safety_number(PARIS_CARD, MOSCOW_CARD),
        lambda: create_line_key(sender=PARIS, recipient=MOSCOW_CARD, label="x", created_at=1),
    ],
)
def test_the_guard_catches_the_standard_path(call: object) -> None:
    with pytest.raises(AssertionError, match="standard-profile primitive"):
        call()  # type: ignore[operator]


def test_the_same_calls_run_unguarded_for_both_profiles() -> None:
    _line("cnsa2")
    _line("standard")
