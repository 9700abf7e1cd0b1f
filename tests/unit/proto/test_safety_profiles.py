"""Safety numbers per line profile (:mod:`hotline.proto.safety`, docs/protocol.md §8.4).

The standard number is the one of test_safety.py, unchanged by the cnsa2 keys an identity gains; the
cnsa2 number is SHA-384 over the cnsa2 key digests, with its own label.
"""

from __future__ import annotations

import hashlib

import pytest

from hotline.proto.cards import CardError, issue_card
from hotline.proto.identity_errors import IdentityError
from hotline.proto.safety import safety_number
from hotline.proto.wordlist import WORDS
from tests.support.identities import fixed_cnsa2_identity, fixed_identity

PARIS = fixed_cnsa2_identity("Paris", 1)
MOSCOW = fixed_cnsa2_identity("Moscow", 11)

# The standard golden of test_safety.py (the same stations' standard keys) and the cnsa2 golden.
STANDARD_DIGITS = "82678 40168 07129 85553 34422 12936 66804 24939 39154 81910 20726 99223"
CNSA2_DIGITS = "43002 47043 45964 23779 48506 39102 69186 45951 09628 47480 44972 20015"
CNSA2_WORDS = (
    "yellow cello castle mirror teapot guitar linen butter globe elbow rudder lumber "
    "bugle valley pepper tomato helmet sketch helmet hedge wheat thunder scarf domino"
)


def test_standard_is_unchanged_by_the_cnsa2_keys() -> None:
    old = safety_number(fixed_identity("Paris", 1).public(), fixed_identity("Moscow", 11).public())
    assert old.digits == STANDARD_DIGITS
    assert safety_number(PARIS.public(), MOSCOW.public()) == old
    assert safety_number(PARIS.public(), MOSCOW.public(), "standard") == old


def test_cnsa2_golden() -> None:
    number = safety_number(PARIS.public(), MOSCOW.public(), "cnsa2")
    assert number.digits == CNSA2_DIGITS and " ".join(number.words) == CNSA2_WORDS
    assert number != safety_number(PARIS.public(), MOSCOW.public())


def test_cnsa2_is_the_spec_s() -> None:
    lo, hi = sorted((PARIS.key_digest_for("cnsa2"), MOSCOW.key_digest_for("cnsa2")))
    h1 = hashlib.sha384(b"hotline safety number cnsa2 v1" + lo + hi).digest()
    h2 = hashlib.sha384(h1 + lo + hi).digest()
    material = (h1 + h2)[:64]
    number = safety_number(MOSCOW.public(), PARIS.public(), "cnsa2")
    assert number.material == material
    assert number.groups[0] == f"{int.from_bytes(material[:5], 'big') % 100000:05d}"
    assert number.words[:2] == (WORDS[material[0]], WORDS[material[1]])


def test_cards_and_identities_agree_and_order_does_not_matter() -> None:
    paris = issue_card(PARIS, endpoints=[], created_at=1)
    moscow = issue_card(MOSCOW, endpoints=[], created_at=2)
    expected = safety_number(PARIS.public(), MOSCOW.public(), "cnsa2")
    assert safety_number(paris, moscow, "cnsa2") == safety_number(moscow, paris, "cnsa2") == expected
    assert safety_number(paris, MOSCOW.public(), "cnsa2") == expected


def test_a_version_1_card_has_no_cnsa2_number() -> None:
    old = issue_card(fixed_identity("Moscow", 11), endpoints=[], created_at=1)
    assert safety_number(PARIS.public(), old).digits == STANDARD_DIGITS
    with pytest.raises(CardError, match="version 1 card"):
        safety_number(PARIS.public(), old, "cnsa2")
    with pytest.raises(IdentityError, match="holds no cnsa2 keys"):
        safety_number(fixed_identity("Paris", 1).public(), MOSCOW.public(), "cnsa2")


def test_unknown_profile() -> None:
    with pytest.raises(IdentityError, match="no line profile"):
        safety_number(PARIS.public(), MOSCOW.public(), "turbo")


def test_each_cnsa2_key_changes_the_cnsa2_number_only() -> None:
    parts = MOSCOW.cnsa2_parts
    assert parts is not None
    other = fixed_identity("Moscow", 11).with_cnsa2(parts._replace(mldsa_seed=bytes(32)))
    assert safety_number(PARIS.public(), other.public()) == safety_number(PARIS.public(), MOSCOW.public())
    assert safety_number(PARIS.public(), other.public(), "cnsa2") != safety_number(
        PARIS.public(), MOSCOW.public(), "cnsa2"
    )
