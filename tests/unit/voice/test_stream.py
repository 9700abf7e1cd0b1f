"""Sender and receiver together, and the package's promise to stay sans-IO."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hotline.voice
from hotline.voice import FRAME_BYTES, MAX_PAYLOAD, VoiceError, VoiceReceiver, VoiceSender, unpack_payload
from hotline.voice.codec import Encoder
from hotline.voice.payload import pack_payload

from .test_codec import tone

T = 0.02


def test_sender_numbers_frames_and_repeats_the_last_ones() -> None:
    sender = VoiceSender(redundancy=2)
    payloads = [sender.next_payload(tone(i)) for i in range(4)]
    assert sender.index == 4
    assert [len(unpack_payload(p)[1]) for p in payloads] == [1, 2, 3, 3]
    index, frames = unpack_payload(payloads[3])
    assert index == 3
    assert frames[1] == unpack_payload(payloads[2])[1][0]
    assert frames[2] == unpack_payload(payloads[1])[1][0]
    assert all(len(p) <= MAX_PAYLOAD for p in payloads)


def test_default_sender_fits_its_copies_and_skips_inband_fec() -> None:
    sender = VoiceSender()
    assert not sender.encoder.fec
    payloads = [sender.next_payload(tone(i)) for i in range(5)]
    assert len(unpack_payload(payloads[-1])[1]) == 4
    assert VoiceSender(redundancy=0).encoder.fec


def test_sender_refuses_bad_redundancy_and_bad_pcm() -> None:
    with pytest.raises(VoiceError, match="redundancy"):
        VoiceSender(redundancy=9)
    with pytest.raises(VoiceError, match="1920 bytes"):
        VoiceSender().next_payload(b"\x00")


def test_receiver_plays_silence_until_started_then_audio() -> None:
    sender, receiver = VoiceSender(), VoiceReceiver()
    out = []
    for i in range(20):
        receiver.receive(sender.next_payload(tone(i)), i * T + 0.005)
        out.append(receiver.play(i * T + T / 2 + 0.001))
    assert out[0] == bytes(FRAME_BYTES)
    assert all(len(pcm) == FRAME_BYTES for pcm in out)
    assert any(pcm != bytes(FRAME_BYTES) for pcm in out)
    assert receiver.stats.jitter.played > 15


def test_lost_payloads_are_filled_from_copies() -> None:
    """Every third payload is lost; every frame still plays from a copy, nothing is concealed."""
    sender, receiver = VoiceSender(redundancy=2), VoiceReceiver()
    for i in range(150):
        payload = sender.next_payload(tone(i))
        if i % 3 != 1:
            receiver.receive(payload, i * T + 0.005)
        receiver.play(i * T + T / 2 + 0.001)
    stats = receiver.stats
    assert stats.filled_by_redundancy >= 40
    assert stats.filled_by_plc <= 2  # before the buffer has learnt the loss rate


def test_fec_fills_a_hole_when_there_are_no_copies() -> None:
    sender = VoiceSender(Encoder(fec=True, expected_loss=20), redundancy=0)
    receiver = VoiceReceiver()
    for i in range(60):
        payload = sender.next_payload(tone(i))
        if i != 30:
            receiver.receive(payload, i * T + 0.005)
        receiver.play(i * T + T / 2 + 0.001)
    assert receiver.stats.filled_by_fec == 1


def test_malformed_and_corrupt_input_is_counted_never_raised() -> None:
    receiver = VoiceReceiver()
    receiver.receive(b"garbage", 0.0)
    receiver.receive(pack_payload(0, [b"\xff\xff\xff"]), 0.0)  # parses, but is not Opus
    pcm = [receiver.play(0.01 + k * T) for k in range(5)]
    stats = receiver.stats
    assert stats.malformed == 1
    assert stats.corrupt == 1
    assert all(len(p) == FRAME_BYTES for p in pcm)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=MAX_PAYLOAD), max_size=30))
def test_arbitrary_payloads_never_raise(payloads: list[bytes]) -> None:
    receiver = VoiceReceiver()
    for k, payload in enumerate(payloads):
        receiver.receive(payload, k * T)
        assert len(receiver.play(k * T + 0.01)) == FRAME_BYTES


SANS_IO = ("jitter.py", "payload.py", "stream.py")
FORBIDDEN = {"asyncio", "socket", "sqlite3", "time", "random", "threading", "os", "io", "wave"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_voice_imports_no_other_hotline_package_nor_io_in_the_sans_io_modules() -> None:
    package = Path(hotline.voice.__file__).parent
    for path in package.glob("*.py"):
        imported = _imports(path)
        others = {n for n in imported if n.startswith("hotline.") and not n.startswith("hotline.voice")}
        assert not others, f"{path.name} imports {others}"
        assert not imported & {"asyncio", "socket", "sqlite3", "time", "random"}, path.name
        if path.name in SANS_IO:
            assert not {n.split(".")[0] for n in imported} & FORBIDDEN, path.name
