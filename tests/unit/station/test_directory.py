"""The handshake's directory: keys only for lines that may carry traffic; refusals logged once a minute."""

from __future__ import annotations

import pytest

from hotline.proto.suites import CNSA2, Suite
from hotline.station.lines import registry
from hotline.station.lines.registry import REFUSAL_LOG_INTERVAL, Directory


class _Lines:
    """A registry that knows one keyed line and records what the directory tells it."""

    def __init__(self) -> None:
        self.refusals: list[bytes] = []
        self.replays: list[bytes] = []

    def line_key(self, peer_static: bytes) -> bytes | None:
        return b"k" * 32 if peer_static == b"known" else None

    def refused(self, peer_static: bytes) -> None:
        self.refusals.append(peer_static)

    def replayed(self, peer_static: bytes) -> None:
        self.replays.append(peer_static)


def test_keys_and_rate_limited_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: now[0])
    lines = _Lines()
    directory = Directory(lines)  # type: ignore[arg-type]
    assert directory.line_key(b"known") == b"k" * 32
    assert lines.refusals == []
    assert directory.line_key(b"stranger") is None
    assert directory.line_key(b"stranger") is None  # the same minute: not told again
    assert directory.line_key(b"other") is None  # another station is told at once
    assert lines.refusals == [b"stranger", b"other"]
    now[0] += REFUSAL_LOG_INTERVAL
    assert directory.line_key(b"stranger") is None
    assert lines.refusals == [b"stranger", b"other", b"stranger"]


def test_replays_go_to_the_registry() -> None:
    lines = _Lines()
    Directory(lines).replayed(b"known")  # type: ignore[arg-type]
    assert lines.replays == [b"known"]


class _Profiles:
    """A registry that knows one line's suite and records the mismatches it is told of."""

    def __init__(self) -> None:
        self.mismatches: list[tuple[bytes, str]] = []

    def suite_for(self, peer_static: bytes) -> Suite | None:
        return CNSA2 if peer_static == b"known" else None

    def profile_mismatch(self, peer_static: bytes, theirs: str) -> None:
        self.mismatches.append((peer_static, theirs))


def test_suites_and_profile_mismatches_go_to_the_registry() -> None:
    lines = _Profiles()
    directory = Directory(lines)  # type: ignore[arg-type]
    assert directory.suite_for(b"known") == CNSA2 and directory.suite_for(b"stranger") is None
    directory.profile_mismatch(b"known", "standard")
    assert lines.mismatches == [(b"known", "standard")]
