"""Safety numbers (:mod:`hotline.proto.safety`) and the word list they use (:mod:`hotline.proto.wordlist`)."""

from __future__ import annotations

import pytest

from hotline.proto.cards import issue_card
from hotline.proto.safety import SafetyNumber, safety_number
from hotline.proto.wordlist import WORD_INDEX, WORDS
from tests.support.identities import fixed_identity

PARIS = fixed_identity("Paris", 1)
MOSCOW = fixed_identity("Moscow", 11)
ROME = fixed_identity("Rome", 21)
PARIS_CARD = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=[], created_at=2)

# Golden: the safety number of PARIS and MOSCOW (our derivation, docs/protocol.md §8).
GOLDEN_DIGITS = "82678 40168 07129 85553 34422 12936 66804 24939 39154 81910 20726 99223"
GOLDEN_WORDS = (
    "thimble lotus cotton cotton puppet rainbow pasta bottle oyster arena berry noodle "
    "cello slipper queen topaz noodle oxygen castle jungle noble bucket dolphin album"
)


def test_golden() -> None:
    number = safety_number(PARIS_CARD, MOSCOW_CARD)
    assert number.digits == GOLDEN_DIGITS
    assert " ".join(number.words) == GOLDEN_WORDS
    assert str(number) == GOLDEN_DIGITS


def test_order_independent() -> None:
    assert safety_number(PARIS_CARD, MOSCOW_CARD) == safety_number(MOSCOW_CARD, PARIS_CARD)


def test_depends_on_keys_only() -> None:
    """New cards for the same keys (other endpoints, times) keep the number; the public identity too."""
    reissued = issue_card(PARIS, endpoints=["other.example:1"], created_at=999)
    assert safety_number(reissued, MOSCOW_CARD) == safety_number(PARIS_CARD, MOSCOW_CARD)
    assert safety_number(PARIS.public(), MOSCOW.public()) == safety_number(PARIS_CARD, MOSCOW_CARD)


def test_a_key_change_changes_the_number() -> None:
    rome_card = issue_card(ROME, endpoints=[], created_at=3)
    numbers = {
        safety_number(PARIS_CARD, MOSCOW_CARD).digits,
        safety_number(PARIS_CARD, rome_card).digits,
        safety_number(MOSCOW_CARD, rome_card).digits,
    }
    assert len(numbers) == 3


def test_shape() -> None:
    number = safety_number(PARIS_CARD, MOSCOW_CARD)
    assert len(number.groups) == 12
    assert all(len(group) == 5 and group.isdigit() for group in number.groups)
    assert len(number.digits) == 12 * 5 + 11
    assert len(number.words) == 24
    assert all(word in WORD_INDEX for word in number.words)
    assert repr(number) == f"SafetyNumber('{GOLDEN_DIGITS}')"


def test_groups_are_zero_padded() -> None:
    # the first 5 bytes decode to 100000 * k + 7, i.e. group "00007"
    value = 100000 * 1234 + 7
    number = SafetyNumber(value.to_bytes(5, "big") + bytes(59))
    assert number.groups[0] == "00007"
    assert number.groups[1:] == ("00000",) * 11
    assert number.words[:5] == tuple(WORDS[byte] for byte in value.to_bytes(5, "big"))
    with pytest.raises(ValueError):
        SafetyNumber(bytes(63))


@pytest.mark.parametrize(
    "typed",
    [
        GOLDEN_DIGITS,
        GOLDEN_DIGITS.replace(" ", ""),
        GOLDEN_DIGITS.replace(" ", "-"),
        "  " + GOLDEN_DIGITS.replace(" ", "\n") + "\n",
        GOLDEN_WORDS,
        GOLDEN_WORDS.upper(),
        GOLDEN_WORDS.replace(" ", ", "),
        GOLDEN_WORDS.replace(" ", "-"),
    ],
)
def test_matches_what_an_operator_types(typed: str) -> None:
    assert safety_number(PARIS_CARD, MOSCOW_CARD).matches(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        GOLDEN_DIGITS[:-1],
        GOLDEN_DIGITS + "0",
        GOLDEN_DIGITS.replace("82678", "82679"),
        " ".join(GOLDEN_WORDS.split()[:-1]),
        GOLDEN_WORDS.replace("album", "acorn"),
        GOLDEN_WORDS + " acorn",
        "\uff18\uff12\uff16\uff17\uff18",  # full-width digits are not ours
        "thimble lötus",
    ],
)
def test_does_not_match_anything_else(typed: str) -> None:
    assert not safety_number(PARIS_CARD, MOSCOW_CARD).matches(typed)


# -- the word list -------------------------------------------------------------------------------------

NATO = {
    "alfa", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
}  # fmt: skip
PROCEDURE = {"over", "out", "roger", "wilco", "repeat", "stop", "wait", "affirm", "negative", "correct"}


def test_word_list_rules() -> None:
    assert len(WORDS) == 256
    assert len(set(WORDS)) == 256
    assert all(word.isascii() and word.isalpha() and word.islower() for word in WORDS)
    assert all(3 <= len(word) <= 7 for word in WORDS)
    assert len({word[:3] for word in WORDS}) == 256, "three letters must identify a word"
    assert not set(WORDS) & (NATO | PROCEDURE)
    assert list(WORDS) == sorted(WORDS)
    assert all(WORD_INDEX[word] == index for index, word in enumerate(WORDS))
