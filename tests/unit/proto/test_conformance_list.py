"""docs/protocol.md §15, the conformance checklist: numbered items, each with a requirement word and
the section that makes the rule; the requirement words appear nowhere else in the spec."""

from __future__ import annotations

import re
from pathlib import Path

PROTOCOL_MD = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
WORDS = re.compile(r"\b(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY|REQUIRED|RECOMMENDED|OPTIONAL)\b")


def _split() -> tuple[str, str]:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    at = text.index("\n## 15. Conformance\n")
    return text[:at], text[at:]


def _items(checklist: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    for line in checklist.splitlines():
        found = re.match(r"^(\d+)\. (.*)", line)
        if found:
            items.append((int(found.group(1)), found.group(2)))
        elif items and line.startswith("   "):
            number, text = items[-1]
            items[-1] = (number, f"{text} {line.strip()}")
    return items


def test_every_item_is_numbered_in_order_requires_something_and_cites_its_section() -> None:
    items = _items(_split()[1])
    assert [n for n, _ in items] == list(range(1, len(items) + 1))
    assert len(items) >= 50
    for number, text in items:
        assert WORDS.search(text), (number, text)
        assert re.search(r"§\d+(\.\d+)?", text), (number, text)


def test_requirement_words_appear_only_in_the_checklist() -> None:
    before = _split()[0]
    assert WORDS.findall(before) == []


def test_the_checklist_cites_only_sections_that_exist() -> None:
    before, checklist = _split()
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", before, flags=re.MULTILINE))
    cited = set(re.findall(r"§(\d+(?:\.\d+)?)", checklist))
    assert cited - headings == set()
