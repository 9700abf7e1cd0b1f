"""Token buckets and the handshake limits (issue 13, F12): properties with hypothesis, then cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.ratelimit import HandshakeLimits, KeyedBuckets, TokenBucket, source_key

rates = st.floats(min_value=0.01, max_value=1000.0, allow_nan=False, allow_infinity=False)
bursts = st.integers(min_value=1, max_value=50)
#: Gaps between attempts (seconds); zero often, so bursts at one instant are common.
gaps = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=5.0, allow_nan=False)),
    min_size=1,
    max_size=300,
)


@given(rates, bursts, gaps)
@settings(max_examples=300, deadline=None)
def test_no_window_allows_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, steps: list[float]
) -> None:
    """F12: over any interval [t0, t1] at most ``burst + rate * (t1 - t0)`` events are allowed."""
    bucket = TokenBucket(rate, burst, 0.0)
    now, allowed = 0.0, []
    for gap in steps:
        now += gap
        if bucket.take(now):
            allowed.append(now)
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + rate * (allowed[j] - start) + 1e-6


@given(rates, bursts, gaps)
@settings(max_examples=300, deadline=None)
def test_an_honest_pace_is_never_refused(rate: float, burst: int, steps: list[float]) -> None:
    """F12: attempts spaced at least ``1 / rate`` apart are all allowed, whatever came before them
    once the bucket has had ``burst / rate`` seconds to refill."""
    bucket = TokenBucket(rate, burst, 0.0)
    now = 0.0
    for gap in steps:  # anything at all first
        now += gap
        bucket.take(now)
    now += burst / rate
    for _ in range(3 * burst):
        assert bucket.take(now)
        now += 1.0 / rate


@given(rates, bursts, st.floats(min_value=0.0, max_value=1e6, allow_nan=False))
def test_a_full_burst_is_allowed_at_once_and_not_one_more(rate: float, burst: int, start: float) -> None:
    bucket = TokenBucket(rate, burst, start)
    assert all(bucket.take(start) for _ in range(burst))
    assert not bucket.take(start)


def test_a_clock_that_goes_back_gives_no_tokens() -> None:
    bucket = TokenBucket(1.0, 1, 100.0)
    assert bucket.take(100.0)
    assert not bucket.take(50.0)
    assert not bucket.take(100.5)
    assert bucket.take(101.0)


def test_keyed_buckets_are_independent_and_bounded() -> None:
    buckets = KeyedBuckets(1.0, 2, max_buckets=4)
    assert buckets.take("a", 0.0) and buckets.take("a", 0.0) and not buckets.take("a", 0.0)
    assert buckets.take("b", 0.0)  # another key has its own bucket
    for n in range(100):  # many keys: memory stays bounded
        buckets.take(f"k{n}", 0.0)
        assert len(buckets) <= 4
    # "a" was forgotten on the way; a forgotten bucket comes back full, as it would be by then
    assert buckets.take("a", 10.0)


def test_handshake_limits_count_and_report_each_drop() -> None:
    heard: list[bytes | None] = []
    limits = HandshakeLimits(
        peer_rate=1.0, peer_burst=2, source_rate=1.0, source_burst=3, on_drop=heard.append
    )
    peer = bytes(32)
    assert [limits.allow_peer(peer, 0.0) for _ in range(3)] == [True, True, False]
    assert [limits.allow_source("192.0.2.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limits.allow_source("192.0.2.2", 0.0)  # another address
    assert limits.allow_source(None, 0.0)  # no address known: not limited by address
    assert limits.dropped_by_peer == {peer: 1} and limits.dropped_by_source == 1
    assert heard == [peer, None]
    assert limits.allow_peer(peer, 1.0)


def test_an_ipv6_host_counts_as_its_whole_slash_64() -> None:
    """F12: a host holds a whole /64, so rotating addresses inside it does not buy new tokens."""
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:192.0.2.1") == source_key("192.0.2.1") == "192.0.2.1"
    assert source_key("fe80::1%eth0") == "fe80::/64"
    assert source_key("not an address") == "not an address"
    limits = HandshakeLimits(source_rate=1.0, source_burst=1)
    assert limits.allow_source("2001:db8::1", 0.0)
    assert not limits.allow_source("2001:db8::2", 0.0)
    assert limits.allow_source("192.0.2.1", 0.0)
