"""F5: the per-line quota accounting (hotline.station.quotarules) against simple models."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.linemsg import HoldReason
from hotline.station.config import LineSettings, StationConfig
from hotline.station.quotarules import (
    HOUR,
    STEP,
    Disk,
    Limits,
    QuotaDefaults,
    QuotaSettings,
    RateWindow,
    limits,
    reserve,
    verdict,
)

GiB = 2**30

#: Times of stored entries, increasing, within a few hours.
arrivals = st.lists(st.floats(min_value=0, max_value=4 * HOUR, allow_nan=False), max_size=200).map(sorted)


def model_count(times: list[float], now: float) -> int:
    """Entries whose minute is one of the 60 that end at ``now``'s minute."""
    current = int(now // STEP)
    return sum(1 for t in times if current - HOUR // STEP < int(t // STEP) <= current)


@settings(max_examples=300)
@given(arrivals, st.floats(min_value=0, max_value=2 * HOUR))
def test_F5_the_window_counts_the_entries_of_the_last_sixty_minutes(times: list[float], later: float) -> None:
    """F5: the sliding hour counts exactly the entries stored in the last 60 one-minute steps."""
    window = RateWindow()
    for n, t in enumerate(times):
        window.add(t)
        assert window.count(t) == model_count(times[: n + 1], t)
    end = (times[-1] if times else 0.0) + later
    assert window.count(end) == model_count(times, end)


@settings(max_examples=300)
@given(arrivals, st.integers(min_value=1, max_value=250))
def test_F5_free_in_is_the_first_moment_below_the_limit(times: list[float], limit: int) -> None:
    """F5: ``free_in`` says when a paused line may store again: below the limit then, not a step before."""
    window = RateWindow()
    for t in times:
        window.add(t)
    now = times[-1] if times else 0.0
    wait = window.free_in(now, limit)
    assert wait >= 0
    assert window.count(now + wait) < limit or (wait == 0 and model_count(times, now) < limit)
    if wait > 0:
        assert model_count(times, now + wait - 1e-3) >= limit
    else:
        assert model_count(times, now) < limit


def test_F5_the_window_forgets_nothing_it_loaded_from_the_store() -> None:
    window = RateWindow()
    now = 10 * HOUR + 30.0
    window.load({int(now // STEP): 5, int(now // STEP) - 59: 3, int(now // STEP) - 60: 100})
    assert window.count(now) == 8  # the step an hour old has left the window
    assert math.isclose(window.free_in(now, 6), (int(now // STEP) + 1) * STEP - now)


LIMIT = Limits(entries_per_hour=10, stored_bytes=1000, document_bytes=500, approve_documents_above=100)
ROOMY = Disk(free=10**9, total=10**10)


@pytest.mark.parametrize(
    ("recent", "stored", "size", "disk", "shared", "expected"),
    [
        (9, 0, 10, ROOMY, False, None),
        (10, 0, 10, ROOMY, False, HoldReason.RATE),
        (0, 990, 10, ROOMY, False, None),
        (0, 991, 10, ROOMY, False, HoldReason.SPACE),
        (0, 0, 10, Disk(free=110, total=10**4), False, None),  # exactly the reserve left
        (0, 0, 11, Disk(free=110, total=10**4), False, HoldReason.DISK),
        (0, 500, 10, Disk(free=600, total=10**4), False, None),  # alone: the line may use it all
        (0, 500, 10, Disk(free=600, total=10**4), True, HoldReason.DISK),  # not with other lines
        (0, 200, 10, Disk(free=600, total=10**4), True, None),
    ],
)
def test_F5_verdict(
    recent: int, stored: int, size: int, disk: Disk, shared: bool, expected: HoldReason | None
) -> None:
    assert (
        verdict(LIMIT, recent=recent, stored=stored, size=size, disk=disk, kept=100, shared=shared)
        == expected
    )


@settings(max_examples=300)
@given(
    recent=st.integers(0, 50),
    stored=st.integers(0, 5000),
    size=st.integers(0, 2000),
    free=st.integers(0, 10**5),
    kept=st.integers(0, 10**4),
    shared=st.booleans(),
)
def test_F5_an_admitted_entry_keeps_every_quota_and_the_reserve(
    recent: int, stored: int, size: int, free: int, kept: int, shared: bool
) -> None:
    """F5: whatever is admitted leaves the line within its quotas and the disk above its reserve (and,
    with other lines, no more held by this line than the free space left above the reserve)."""
    disk = Disk(free=free, total=10**6)
    if verdict(LIMIT, recent=recent, stored=stored, size=size, disk=disk, kept=kept, shared=shared) is None:
        assert recent + 1 <= LIMIT.entries_per_hour
        assert stored + size <= LIMIT.stored_bytes
        assert free - size >= kept
        if shared:
            assert stored + size <= free - size - kept


def test_F5_a_line_table_overrides_the_station_defaults_key_by_key() -> None:
    defaults = QuotaDefaults()
    assert limits(defaults, QuotaSettings()) == Limits(6000, 64 * GiB, 8 * GiB, 2 * GiB)
    assert limits(defaults, LineSettings(entries_per_hour=7, auto_answer=True)) == Limits(
        7, 64 * GiB, 8 * GiB, 2 * GiB
    )


def test_F5_the_reserve_is_the_smaller_of_bytes_and_share() -> None:
    assert reserve(QuotaDefaults(), 1000 * GiB) == GiB
    assert reserve(QuotaDefaults(), 2**20 * 16) == int(2**20 * 16 * 0.05)
    assert reserve(QuotaDefaults(disk_reserve_percent=0), 1000 * GiB) == 0


BASE = b'name = "a"\nlisten = "127.0.0.1:7443"\n'


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        (b"[quotas]\nentries_per_hour = 0\n", "quotas.entries_per_hour"),
        (b"[quotas]\ndisk_reserve_percent = 80.0\n", "quotas.disk_reserve_percent"),
        (b"[quotas]\ndisk_reserve_percent = nan\n", "quotas.disk_reserve_percent"),
        (b"[quotas]\ndisk_reserve_bytes = -1\n", "quotas.disk_reserve_bytes"),
        (b"[lines.b]\nstored_bytes = 0\n", "lines.b.stored_bytes"),
        (b"[lines.b]\napprove_documents_above = -5\n", "lines.b.approve_documents_above"),
    ],
)
def test_F5_a_bad_quota_is_refused_naming_its_key(toml: bytes, key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        msgspec.toml.decode(BASE + toml, type=StationConfig)


def test_F5_quota_settings_read_and_written_back() -> None:
    config = msgspec.toml.decode(
        BASE + b"[quotas]\nentries_per_hour = 100\n[lines.b]\ndocument_bytes = 5\nauto_answer = true\n",
        type=StationConfig,
    )
    assert config.quotas.entries_per_hour == 100
    assert limits(config.quotas, config.line("b")).document_bytes == 5
    assert limits(config.quotas, config.line("c")).document_bytes == 8 * GiB
    again = msgspec.toml.decode(msgspec.toml.encode(config), type=StationConfig)
    assert again == config
