"""The published vectors are what the code makes today: each file, built again, is byte-identical."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.conformance.vectorfile import DOCS_VECTORS, areas, render

AREAS = areas()


def test_every_published_file_has_a_generator() -> None:
    made = {module.FILE for module in AREAS}
    published = {p.name for p in DOCS_VECTORS.glob("*.json")}
    assert published == made


@pytest.mark.parametrize("module", AREAS, ids=lambda m: m.FILE)
def test_regenerated_file_is_byte_identical(module: ModuleType) -> None:
    published = (DOCS_VECTORS / module.FILE).read_text(encoding="utf-8")
    assert render(module.build()) == published, (
        f"docs/vectors/{module.FILE} is not what the code makes: if the change is deliberate, "
        "run `python -m tests.conformance.generate` and update docs/protocol.md in the same commit"
    )
