"""Which sealed line key may replace the one a line holds (issue 13, B4): only a strictly newer one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.proto.linekeys import LineKeyError, check_supersedes, next_created_at

times = st.integers(min_value=0, max_value=2**63 - 1)


def test_a_line_without_a_key_takes_any() -> None:
    check_supersedes(0, None, line="moscow")
    check_supersedes(1_700_000_000, None, line="moscow")


def test_a_newer_key_replaces_the_current_one() -> None:
    check_supersedes(1_700_000_001, 1_700_000_000, line="moscow")


def test_a_key_as_old_as_the_current_one_is_refused_naming_the_line() -> None:
    """B4: an equal ``created_at`` used to replace the current key; now it is refused."""
    with pytest.raises(LineKeyError) as refused:
        check_supersedes(1_700_000_000, 1_700_000_000, line="moscow")
    assert "as old as" in refused.value.reason and "'moscow'" in refused.value.reason
    assert "line grant" in refused.value.reason  # what to do next


def test_an_older_key_is_refused_naming_the_line() -> None:
    with pytest.raises(LineKeyError) as refused:
        check_supersedes(1_699_999_999, 1_700_000_000, line="moscow")
    assert "older than" in refused.value.reason and "'moscow'" in refused.value.reason


@given(times, st.one_of(st.none(), times))
def test_supersedes_exactly_when_strictly_newer(candidate: int, current: int | None) -> None:
    newer = current is None or candidate > current
    try:
        check_supersedes(candidate, current, line="x")
    except LineKeyError:
        assert not newer
    else:
        assert newer


@given(times, st.one_of(st.none(), st.integers(min_value=0, max_value=2**62)))
def test_a_grant_is_always_accepted_by_a_peer_holding_the_current_key(now: int, current: int | None) -> None:
    """B4: two grants in one second, or a grant after the clock stepped back, still make a key the
    peer accepts: a granted key's ``created_at`` is always past the current one."""
    created = next_created_at(now, current)
    check_supersedes(created, current, line="x")
    assert created >= now
