"""The traffic benchmark's features of a window, on traces made by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest
from bench.traffic_features import CLUSTER_GAP, FEATURE_NAMES, SIZE_EDGES, features
from hypothesis import given, settings
from hypothesis import strategies as st

INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}

#: Ten seconds in: three packets out, two back, then one out more than a cluster gap later.
TRACE = [
    (10.00, 1, 100),
    (10.02, -1, 52),
    (10.05, 1, 1500),
    (10.06, 1, 60000),
    (10.10, -1, 52),
    (11.00, 1, 300),
]


def value(vector: np.ndarray, name: str) -> float:
    return float(vector[INDEX[name]])


def test_counts_bytes_and_shares_per_direction() -> None:
    v = features(TRACE, 10.0, 5.0)
    assert len(v) == len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    assert value(v, "out packets") == 4 and value(v, "in packets") == 2 and value(v, "all packets") == 6
    assert value(v, "out bytes") == 100 + 1500 + 60000 + 300
    assert value(v, "in bytes") == 104
    assert value(v, "out share of packets") == pytest.approx(4 / 6)
    assert value(v, "out share of bytes") == pytest.approx(61900 / 62004)


def test_sizes_fall_in_their_histogram_bins() -> None:
    v = features(TRACE, 10.0, 5.0)
    assert SIZE_EDGES[0] == 64
    assert value(v, "in sizes 1-64") == 2
    assert value(v, "out sizes 65-128") == 1
    assert value(v, "out sizes 257-512") == 1
    assert value(v, "out sizes 1025-1500") == 1
    assert value(v, "out sizes > 16384") == 1
    bins = [name for name in FEATURE_NAMES if name.startswith("all sizes")]
    assert sum(value(v, name) for name in bins) == 6
    assert value(v, "all size max") == 60000
    assert value(v, "out size p50") == pytest.approx(900.0)


def test_gaps_first_and_last_packets() -> None:
    v = features(TRACE, 10.0, 5.0)
    assert value(v, "in gap mean") == pytest.approx(0.08)
    assert value(v, "out gap max") == pytest.approx(0.94)
    assert value(v, "all first at") == pytest.approx(0.0)
    assert value(v, "out last at") == pytest.approx(1.0)
    assert value(v, "in last at") == pytest.approx(0.10)


def test_runs_one_way_and_clusters_in_time() -> None:
    v = features(TRACE, 10.0, 5.0)
    # out, in, out out, in, out
    assert value(v, "runs one way") == 5
    assert value(v, "run length max") == 2
    assert value(v, "run length mean") == pytest.approx(6 / 5)
    # the first five packets are less than CLUSTER_GAP apart; the last one stands alone
    assert CLUSTER_GAP == 0.1
    assert value(v, "clusters") == 2
    assert value(v, "cluster packets max") == 5
    assert value(v, "cluster seconds max") == pytest.approx(0.10)


def test_slots_show_how_the_packets_spread() -> None:
    v = features(TRACE, 10.0, 5.0)
    # ten 0.5 s slots: five packets in the first, one in the third
    assert value(v, "all slot max") == 5
    assert value(v, "all slots busy") == pytest.approx(0.2)
    assert value(v, "all slot mean") == pytest.approx(0.6)


def test_only_the_window_counts_and_order_does_not_matter() -> None:
    shuffled = TRACE[:]
    random.Random(3).shuffle(shuffled)
    outside = [(9.99, 1, 999), (15.0, -1, 999)]
    assert np.array_equal(features(shuffled + outside, 10.0, 5.0), features(TRACE, 10.0, 5.0))
    later = features(TRACE, 10.5, 5.0)
    assert value(later, "all packets") == 1


def test_an_empty_window_is_all_quiet() -> None:
    v = features(TRACE, 100.0, 4.0)
    assert value(v, "all packets") == 0 and value(v, "all bytes") == 0
    assert value(v, "all gap mean") == 4.0 and value(v, "all first at") == 4.0
    assert value(v, "runs one way") == 0 and value(v, "clusters") == 0
    assert value(v, "out share of packets") == 0.5
    assert np.all(np.isfinite(v))


def test_bad_windows_and_directions_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 0 s"):
        features(TRACE, 10.0, 0.0)
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        features([(10.0, 2, 100)], 10.0, 1.0)


observations = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
        st.sampled_from([1, -1]),
        st.integers(min_value=20, max_value=65535),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(observations, st.floats(min_value=0.1, max_value=10.0))
def test_any_trace_gives_finite_numbers_that_add_up(
    trace: list[tuple[float, int, int]], length: float
) -> None:
    v = features(trace, 0.0, length)
    inside = [p for p in trace if p[0] < length]
    assert np.all(np.isfinite(v))
    assert value(v, "all packets") == len(inside)
    assert value(v, "out packets") + value(v, "in packets") == len(inside)
    assert value(v, "all bytes") == sum(p[2] for p in inside)
    assert value(v, "cluster packets max") <= len(inside)
