"""The sans-IO jitter buffer. Time is a number: each test states its scenario in its docstring."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.voice.errors import VoiceError
from hotline.voice.jitter import HISTORY, JitterBuffer, Playout, PlayoutKind

T = 0.02


def frame(i: int) -> bytes:
    return b"f%d" % i


def feed_in_order(jb: JitterBuffer, count: int, *, latency: float = 0.005) -> list[Playout]:
    """Frame i arrives at i*T + latency; the playout clock ticks at i*T + T/2."""
    out = []
    for i in range(count):
        jb.push(i, frame(i), i * T + latency)
        out.append(jb.pop(i * T + T / 2 + 0.001))
    return out


def test_waits_then_plays_every_frame_in_order_at_minimum_delay() -> None:
    """Clean line: silence until the first frame has waited min_delay, then frames 0, 1, 2... in order."""
    jb = JitterBuffer()
    out = feed_in_order(jb, 100)
    started = [p for p in out if p.kind is not PlayoutKind.WAIT]
    assert out[0].kind is PlayoutKind.WAIT and out[0].index is None
    assert [p.index for p in started] == list(range(len(started)))
    assert all(p.kind is PlayoutKind.FRAME and p.frame == frame(p.index or 0) for p in started)
    stats = jb.stats
    assert stats.target_delay_ms == 20
    assert stats.jitter_ms < 1e-6
    assert stats.concealed == stats.inserted == stats.dropped == 0
    assert stats.played == len(started)


def test_duplicates_and_late_frames_are_counted_and_ignored() -> None:
    """A frame pushed twice is a duplicate; a frame for a number already concealed is late."""
    jb = JitterBuffer()
    feed_in_order(jb, 10)
    jb.push(9, frame(9), 0.2)
    assert jb.stats.duplicates == 1
    tick = 10
    while jb.next_index != 10:
        assert jb.pop(tick * T + T / 2 + 0.001).kind is PlayoutKind.FRAME
        tick += 1
    # Frame 10 never comes in time: its tick conceals it, then it turns up.
    playout = jb.pop(tick * T + T / 2 + 0.001)
    assert playout.kind is PlayoutKind.CONCEAL and playout.index == 10 and not playout.inserted
    jb.push(10, frame(10), 0.5)
    assert jb.stats.late == 1
    assert jb.stats.concealed == 1


def test_fec_when_next_frame_is_here() -> None:
    """Frame 5 is lost but 6 has arrived: the tick for 5 hands over frame 6 for FEC, then plays 6."""
    jb = JitterBuffer()
    kinds = []
    for i in range(10):
        if i != 5:
            jb.push(i, frame(i), i * T + 0.005)
        kinds.append(jb.pop(i * T + T / 2 + 0.001))
    fec = [p for p in kinds if p.kind is PlayoutKind.FEC]
    assert len(fec) == 1 and fec[0].index == 5 and fec[0].frame == frame(6)
    assert jb.stats.fec_recovered == 1


def test_redundant_copy_in_time_fills_the_hole() -> None:
    """Payload 5 is lost; its frame comes as a copy (age 1) with payload 6 and plays in its turn."""
    jb = JitterBuffer(min_delay=0.04)
    played = []
    for i in range(12):
        now = i * T + 0.005
        if i != 5:
            jb.push(i, frame(i), now)
            if i > 0:
                jb.push(i - 1, frame(i - 1), now, age=1)
        played.append(jb.pop(i * T + T / 2 + 0.001))
    assert [p.index for p in played if p.kind is PlayoutKind.FRAME][:8] == list(range(8))
    assert jb.stats.concealed == 0


def test_loss_raises_the_target_to_wait_for_copies_and_clean_line_keeps_it_low() -> None:
    """With one payload in ten lost, the target grows to cover the copies (2 deep)."""
    jb = JitterBuffer()
    for i in range(600):
        now = i * T + 0.005
        if i % 10 != 3:
            jb.push(i, frame(i), now)
            jb.push(i - 1, frame(i - 1), now, age=1)
            jb.push(i - 2, frame(i - 2), now, age=2)
        jb.pop(i * T + T / 2 + 0.001)
    stats = jb.stats
    assert 0.08 < stats.loss_rate < 0.12
    assert stats.target_delay_ms >= 50  # two copies' worth plus margin
    assert stats.concealed == 0


def test_jitter_raises_the_target() -> None:
    """Arrival times spread over 40 ms: the jitter estimate sees it and the target covers it."""
    jb = JitterBuffer()
    for i in range(300):
        jb.push(i, frame(i), i * T + 0.005 + (i * 7 % 5) * 0.01)
        jb.pop(i * T + T / 2 + 0.001)
    stats = jb.stats
    assert 39 <= stats.jitter_ms <= 41
    assert stats.target_delay_ms >= 49


def run_jitter_then_clean(*, quiet: bool) -> JitterBuffer:
    """A second of 60 ms jitter raises the target; then the line is clean long enough to forget it."""
    jb = JitterBuffer(window=50)
    for i in range(300):
        lateness = 0.06 if i < 50 and i % 2 else 0.0
        jb.push(i, frame(i), i * T + 0.005 + lateness)
        jb.pop(i * T + T / 2 + 0.001, quiet=quiet)
    return jb


def test_shrinks_the_delay_in_pauses() -> None:
    """In a pause the buffer skips frames at once until the delay is back within a frame of target."""
    jb = run_jitter_then_clean(quiet=True)
    stats = jb.stats
    assert stats.target_delay_ms == 20
    assert stats.dropped >= 2
    assert stats.delay_ms <= stats.target_delay_ms + 20


def test_shrinks_the_delay_in_speech_only_after_a_long_while() -> None:
    """Without a pause the buffer waits drop_after ticks before cutting into speech."""
    jb = run_jitter_then_clean(quiet=False)
    assert jb.stats.dropped <= 1


def test_far_future_flood_is_bounded() -> None:
    """Frames far ahead of playout are refused; the buffer never holds more than max_ahead."""
    jb = JitterBuffer(max_ahead=50)
    feed_in_order(jb, 5)
    for i in range(1000, 1040):
        jb.push(i, frame(i), 0.2)
    assert jb.stats.rejected == 40
    for i in range(5, 200):
        jb.push(i, frame(i), 0.2)
    assert jb.stats.buffered <= 50


def test_numbering_jump_resyncs() -> None:
    """The sender restarts its numbering: after a run of useless pushes we follow the new numbers."""
    jb = JitterBuffer()
    feed_in_order(jb, 100)
    played = []
    for i in range(200):
        now = (100 + i) * T + 0.005
        jb.push(i, frame(i), now)
        played.append(jb.pop(now + T / 2))
    assert jb.stats.resyncs == 1
    assert played[-1].kind is PlayoutKind.FRAME


def test_refuses_empty_negative_and_oversized() -> None:
    jb = JitterBuffer()
    jb.push(-1, b"x", 0.0)
    jb.push(0, b"", 0.0)
    jb.push(0, b"x" * 5000, 0.0)
    jb.push(0, b"x", 0.0, age=-1)
    assert jb.stats.rejected == 4
    assert jb.stats.received == 4


actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.integers(min_value=-3, max_value=2000),
            st.binary(min_size=0, max_size=4),
            st.integers(min_value=0, max_value=3),
        ),
        st.tuples(st.just("pop"), st.booleans()),
        st.tuples(st.just("wait"), st.floats(min_value=0, max_value=0.5)),
    ),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(actions)
def test_invariants_under_any_pushes_and_pops(script: list[tuple[object, ...]]) -> None:
    """Whatever is pushed and whenever, with time never going back, the buffer keeps its invariants."""
    jb = JitterBuffer(max_ahead=100)
    now = 0.0
    pops = 0
    last_index: int | None = None
    last_inserted = False
    resyncs = 0
    for step in script:
        if step[0] == "wait":
            now += float(step[1])  # type: ignore[arg-type]
        elif step[0] == "push":
            _, index, data, age = step
            jb.push(int(index), bytes(data), now, age=int(age))  # type: ignore[call-overload]
        else:
            playout = jb.pop(now, quiet=bool(step[1]))
            pops += 1
            stats = jb.stats
            if stats.resyncs != resyncs:
                resyncs, last_index = stats.resyncs, None
            if playout.kind is PlayoutKind.WAIT:
                assert playout.index is None and not playout.frame
            else:
                assert playout.index is not None
                if last_index is not None:
                    # Strictly increasing, except a stretch repeats the number it did not consume.
                    assert playout.index > last_index or (last_inserted and playout.index == last_index)
                assert bool(playout.frame) == (playout.kind in (PlayoutKind.FRAME, PlayoutKind.FEC))
                last_index, last_inserted = playout.index, playout.inserted
        stats = jb.stats
        assert stats.received == stats.accepted + stats.duplicates + stats.late + stats.rejected
        assert pops == stats.played + stats.fec_recovered + stats.concealed + stats.inserted + stats.waited
        assert stats.buffered <= 100
        assert len(jb._seen) <= stats.buffered + 2 * HISTORY + 1
        assert len(jb._primaries) <= 100 + 2 * HISTORY
        assert 20 <= stats.target_delay_ms <= 300


def test_bad_settings_raise_voice_error() -> None:
    with pytest.raises(VoiceError, match="min_delay"):
        JitterBuffer(min_delay=0.5, max_delay=0.1)
    with pytest.raises(VoiceError, match="positive"):
        JitterBuffer(window=0)
