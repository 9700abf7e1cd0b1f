"""The fuzz targets' contracts in ``make test``: hypothesis drives every ``fuzz/fuzz_<name>.py``.

``make fuzz`` runs the same ``test_one_input`` functions under atheris for minutes with coverage
feedback; here each gets a few hundred arbitrary inputs and mutations of its seed corpus, without
atheris, so a change that breaks a parser's contract shows up in the ordinary test run.

Findings that are reported but not fixed yet are listed in :data:`FINDINGS`: their reproducers in
``fuzz/findings/`` must still fail the way they were reported, and the random tests let exactly
that exception through, so the suite stays green while the fix is pending. Once a fix lands, the
replay test fails and says what to do: delete the entry and move the file into ``fuzz/corpus/``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"

#: Target name -> examples per test, scaled to what one input costs (pairing hashes to the curve in pure
#: Python; cards and line keys sign or verify with ML-DSA).
TARGETS = {
    "carrier": 800,
    "records": 800,
    "handshake": 400,
    "wire": 1200,
    "pairing": 160,
    "cards": 240,
    "linekeys": 160,
    "config": 600,
}

#: Reported findings not fixed yet: reproducer (under ``fuzz/findings/``) -> the exception it raises.
FINDINGS: dict[str, type[BaseException]] = {}


def target(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz.fuzz_{name}")


def seeds(name: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((FUZZ / "corpus" / name).iterdir())]


def run(name: str, data: bytes) -> None:
    """``test_one_input``, letting through only the exception of a pending finding of this target."""
    pending = tuple({kind for finding, kind in FINDINGS.items() if finding.startswith(f"{name}/")})
    with contextlib.suppress(*pending):
        target(name).test_one_input(data)


def test_every_target_is_listed() -> None:
    assert sorted(TARGETS) == sorted(p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py"))


def test_targets_import_without_atheris() -> None:
    """The targets import atheris only when run as scripts (``make test`` does not install it)."""
    for name in TARGETS:
        source = (FUZZ / f"fuzz_{name}.py").read_text()
        assert "\nimport atheris" not in source and "\nfrom atheris" not in source


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seed_corpus_keeps_the_contract(name: str) -> None:
    corpus = seeds(name)
    assert corpus, f"fuzz/corpus/{name} is empty: run python -m fuzz.make_corpus"
    for data in corpus:
        target(name).test_one_input(data)


def test_every_finding_on_disk_is_listed() -> None:
    on_disk = {f"{path.parent.name}/{path.name}" for path in (FUZZ / "findings").glob("*/*")}
    assert on_disk == set(FINDINGS), "fuzz/findings/ and FINDINGS disagree"


def test_pending_findings_still_fail() -> None:
    """Every listed reproducer still fails as reported (one test, so none pending is a pass, not a skip)."""
    for finding in sorted(FINDINGS):
        name = finding.split("/")[0]
        data = (FUZZ / "findings" / finding).read_bytes()
        try:
            target(name).test_one_input(data)
        except FINDINGS[finding]:
            continue
        pytest.fail(
            f"fuzz/findings/{finding} no longer fails: delete it from FINDINGS "
            f"and move the file into fuzz/corpus/{name}/"
        )


def _examples(name: str, share: float = 1.0) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=max(10, int(TARGETS[name] * share)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A seed with a few libFuzzer-like edits: overwrite, insert, delete, truncate, repeat."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate", "repeat"]))
        if edit == "overwrite" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif edit == "truncate":
            del data[at:]
        elif edit == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _arbitrary_test(name: str) -> Callable[..., None]:
    @_examples(name)
    @given(st.binary(max_size=2048))
    def test(blob: bytes) -> None:
        run(name, blob)

    return test


def _mutation_test(name: str) -> Callable[..., None]:
    @_examples(name)
    @given(mutated(seeds(name)))
    def test(blob: bytes) -> None:
        run(name, blob)

    return test


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_arbitrary_bytes(name: str) -> None:
    _arbitrary_test(name)()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_seeds(name: str) -> None:
    _mutation_test(name)()
