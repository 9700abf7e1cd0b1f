"""Pairing codes: how a code is drawn, spelled and read back (docs/protocol.md §11.1).

A code is a number from 1 to 999 and three words of :mod:`hotline.proto.wordlist`, e.g.
``7-hobby-beach-donkey``: about 34 bits, read aloud from one operator to the other. This module
knows only the text of a code; what a code is used for (the CPace password of a pairing) is
:mod:`hotline.proto.pairing`'s business.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from hotline.proto.wordlist import WORDS

__all__ = ["CODE_NUMBER_MAX", "CODE_WORDS", "CodeError", "code_entropy_bits", "new_code", "normalise_code"]

#: Words in a code, after the number.
CODE_WORDS = 3
#: Codes start with a number from 1 to this.
CODE_NUMBER_MAX = 999


class CodeError(ValueError):
    """A code as typed is not a code: wrong shape, a number out of range or an unknown word."""


_SEPARATORS = re.compile(r"[\s\-_.,]+")
_BY_PREFIX: dict[str, str] = {word[:3]: word for word in WORDS}


def code_entropy_bits() -> float:
    """How many bits of entropy a fresh code carries (about 34)."""
    return math.log2(CODE_NUMBER_MAX) + CODE_WORDS * math.log2(len(WORDS))


def new_code(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh code, e.g. ``7-hobby-beach-donkey``: a number from 1 to 999 and three words.

    Args:
        random_bytes: returns that many uniformly random bytes (:func:`hotline.crypto.random.random_bytes`).

    The number is drawn by rejection (10 bits, kept when 1 to 999), the words one byte each, so the code
    is uniform over about 2**34 values.
    """
    while True:
        number = int.from_bytes(random_bytes(2), "big") >> 6
        if 1 <= number <= CODE_NUMBER_MAX:
            break
    words = [WORDS[b] for b in random_bytes(CODE_WORDS)]
    return "-".join([str(number), *words])


def normalise_code(text: str) -> str:
    """The one spelling of a code as typed: ``"07 Hobby-BEA donkey "`` → ``7-hobby-beach-donkey``.

    Case does not matter; spaces, dashes, dots, commas and underscores all separate; leading zeros of
    the number are dropped; a word may be shortened to its first three letters or more (no two words of
    the list share their first three letters).

    Raises:
        CodeError: with a sentence saying what is wrong.
    """
    tokens = [t for t in _SEPARATORS.split(text.strip().lower()) if t]
    if len(tokens) != 1 + CODE_WORDS:
        raise CodeError("a code is a number and three words, like 7-hobby-beach-donkey")
    number, words = tokens[0], tokens[1:]
    if (
        not (number.isascii() and number.isdigit())
        or len(number) > 6
        or not 1 <= int(number) <= CODE_NUMBER_MAX
    ):
        raise CodeError(f"a code starts with a number from 1 to {CODE_NUMBER_MAX}, like 7-hobby-beach-donkey")
    spelled = [str(int(number))]
    for word in words:
        full = _BY_PREFIX.get(word[:3]) if len(word) >= 3 else None
        if full is None or not full.startswith(word):
            shown = word if len(word) <= 20 else word[:17] + "..."
            raise CodeError(f"{shown!r} is not a word of a code: check the spelling with the other operator")
        spelled.append(full)
    return "-".join(spelled)
