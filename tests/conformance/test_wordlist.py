"""docs/protocol.md Appendix A, its digest and our word list agree.

The appendix is parsed from the markdown: each row of its code block is the index of the row's first
word, then eight words. The digest line names BLAKE2s over the words joined by ``\\n`` with a final
``\\n``, as ASCII.
"""

from __future__ import annotations

import hashlib
import re

from hotline.proto.wordlist import WORDS
from tests.conformance.vectorfile import ROOT

_ROW = re.compile(r"^ +(\d+)((?: +[a-z]+)+)$")
_DIGEST = re.compile(r"BLAKE2s\S* of the list is `([0-9a-f]{64})`")


def _appendix() -> str:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    start = text.index("\n## Appendix A. The word list\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _digest(words: list[str] | tuple[str, ...]) -> str:
    return hashlib.blake2s(("\n".join(words) + "\n").encode("ascii")).hexdigest()


def test_the_appendix_lists_our_words_in_index_order() -> None:
    words: list[str] = []
    for line in _appendix().splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        assert int(match.group(1)) == len(words), f"row {line!r} does not start at index {len(words)}"
        words += match.group(2).split()
    assert len(words) == 256
    assert tuple(words) == WORDS


def test_the_appendix_digest_is_the_lists() -> None:
    found = _DIGEST.findall(_appendix())
    assert found == [_digest(WORDS)]
