"""The sound card's pieces that need no device: choosing devices by name, the frame queues, settings.

A whole call through real (virtual) sound devices is tests/integration/test_call_sound_card.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.station.calls.audio import CUSHION, MOST_QUEUED, SILENCE, FrameQueue, pick_device
from hotline.station.config import AudioSettings, load_config
from hotline.station.errors import StationError
from hotline.voice.codec import FRAME_BYTES


def device(name: str, inputs: int = 2, outputs: int = 2) -> dict[str, Any]:
    return {"name": name, "max_input_channels": inputs, "max_output_channels": outputs}


#: What PortAudio lists on a laptop with a USB headset, through ALSA.
LAPTOP = [
    device("HDA Intel PCH: ALC257 Analog (hw:0,0)"),
    device("HDA Intel PCH: HDMI 0 (hw:0,3)", inputs=0, outputs=8),
    device("USB Headset: Audio (hw:1,0)", inputs=1, outputs=2),
    device("pulse", inputs=32, outputs=32),
    device("default", inputs=32, outputs=32),
]


def test_no_name_means_the_default_device() -> None:
    assert pick_device(LAPTOP, None, "input") is None
    assert pick_device(LAPTOP, None, "output") is None


def test_a_device_is_found_by_number_whole_name_or_a_part_of_the_name_in_any_case() -> None:
    assert pick_device(LAPTOP, "2", "input") == 2
    assert pick_device(LAPTOP, 2, "output") == 2
    assert pick_device(LAPTOP, "pulse", "output") == 3
    assert pick_device(LAPTOP, "usb headset", "input") == 2
    assert pick_device(LAPTOP, "HDMI", "output") == 1


def test_a_whole_name_wins_over_names_that_contain_it() -> None:
    devices = [device("pulse monitor"), device("pulse")]
    assert pick_device(devices, "pulse", "input") == 1


def test_a_device_without_channels_that_way_is_not_chosen() -> None:
    with pytest.raises(StationError) as info:
        pick_device(LAPTOP, "HDMI", "input")
    assert info.value.code == "no-audio-device"
    # the message lists the input devices there are, and where to set the choice
    message = info.value.message
    assert "'HDMI'" in message and "USB Headset: Audio (hw:1,0)" in message and "HDMI 0" not in message
    assert "[audio]" in message and "station.toml" in message
    with pytest.raises(StationError):
        pick_device(LAPTOP, "1", "input")


def test_a_part_of_a_name_that_fits_several_devices_is_refused_with_them_listed() -> None:
    with pytest.raises(StationError) as info:
        pick_device(LAPTOP, "hda intel", "output")
    message = info.value.message
    assert "fits 2 output devices" in message
    assert "0: HDA Intel PCH: ALC257" in message and "1: HDA Intel PCH: HDMI" in message
    assert "USB" not in message


def test_no_device_at_all_says_how_to_use_files() -> None:
    with pytest.raises(StationError) as info:
        pick_device([device("hdmi", inputs=0)], None, "input")
    assert info.value.code == "no-audio-device"
    assert "--play" in info.value.message and "--record" in info.value.message


def frame(n: int) -> bytes:
    """A frame that says its number (1 to 255: frame 0 would be silence)."""
    return bytes([n + 1]) * FRAME_BYTES


def test_the_queue_waits_for_its_cushion_then_passes_frames_in_order() -> None:
    queue = FrameQueue()
    for n in range(CUSHION - 1):
        queue.put(frame(n))
        assert queue.take() == SILENCE
    queue.put(frame(CUSHION - 1))
    assert [queue.take() for _ in range(CUSHION)] == [frame(n) for n in range(CUSHION)]
    # dry: silence, and the cushion again before the next frame passes
    assert queue.take() == SILENCE
    queue.put(frame(7))
    assert queue.take() == SILENCE


def test_a_late_tick_is_absorbed_by_the_cushion_not_cut_into_the_speech() -> None:
    queue = FrameQueue()
    queue.put(frame(0))
    queue.put(frame(1))
    heard = [queue.take()]  # flowing, one left
    heard.append(queue.take())  # the device's tick came late: the cushion covers it
    queue.put(frame(2))
    queue.put(frame(3))
    heard += [queue.take(), queue.take()]
    assert heard == [frame(0), frame(1), frame(2), frame(3)]


@given(st.lists(st.sampled_from(["put", "take"]), max_size=250))
def test_the_queue_never_holds_more_than_its_bound_and_keeps_the_order(steps: list[str]) -> None:
    queue = FrameQueue()
    put = 0
    last = 0
    for step in steps:
        if step == "put":
            queue.put(frame(put))
            put += 1
        else:
            got = queue.take()
            if got != SILENCE:
                # frames come out in the order they went in (some dropped when the queue overflowed)
                assert got[0] > last
                last = got[0]
        assert len(queue._frames) <= MOST_QUEUED


def test_station_toml_names_the_devices(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(
        'name = "alpha"\nlisten = "127.0.0.1:7000"\n[audio]\ninput = "USB Headset"\noutput = "pulse"\n'
    )
    assert load_config(path).audio == AudioSettings(input="USB Headset", output="pulse")
    path.write_text('name = "alpha"\nlisten = "127.0.0.1:7000"\n')
    assert load_config(path).audio == AudioSettings()
    path.write_text('name = "alpha"\nlisten = "127.0.0.1:7000"\n[audio]\ninput = 2\n')
    assert load_config(path).audio == AudioSettings(input=2)
    for bad in (
        '[audio]\nmicrophone = "x"\n',
        '[audio]\ninput = ""\n',
        "[audio]\noutput = -1\n",
        "[audio]\ninput = 1.5\n",
    ):
        path.write_text('name = "alpha"\nlisten = "127.0.0.1:7000"\n' + bad)
        with pytest.raises(StationError) as info:
            load_config(path)
        assert info.value.code == "bad-config"
