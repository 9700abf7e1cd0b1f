"""A whole call through sound cards: two station daemons, PortAudio, and a sound server of the test's own.

No hardware: a PulseAudio server started by the test (tests/support/soundserver.py) holds four
virtual devices, a microphone and a speaker for each station, which PortAudio reaches through
ALSA's pulse plugin, as on a desktop. Each station names its devices in the ``[audio]`` table of
its station.toml. ``hotline call`` and ``hotline answer`` run with no WAV file, so each daemon opens
its sound card; the test plays the shipped speech clip into each station's microphone and records
each station's speaker, and PESQ-WB scores what each far end heard.

The floor is well under what the WAV-file path reaches over loopback (about 4.1; its test asks for
3.5 in tests/integration/test_calls.py) and what this path usually reaches (4.1 to 4.2): each sound
device adds a clock of its own and a queue between it and the call's, and on a busy machine a late
tick now and then drops or pads a frame in the middle of a word (one such run scored 3.1). The
floor says the far end clearly heard the speech, which silence, noise or chopped audio do not reach.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr  # type: ignore[import-untyped]

from hotline.station.config import AudioSettings
from hotline.voice.quality import pesq_wb, speech_sample
from tests.support.soundserver import RATE, SoundServer
from tests.support.stations import CliProcess, Cluster, pair

#: Seconds of the shipped clip played into each microphone.
CLIP_SECONDS = 5.0
#: How long the call lasts: the clip, plus room for the devices' and the line's delay.
CALL_SECONDS = 7.5
#: PESQ-WB (MOS-LQO, 1 to 4.64) each direction must reach: clearly intelligible speech.
FLOOR = 2.5
#: A 10 ms window louder than this (int16 RMS) counts as sound, not silence.
LOUD = 300.0


@pytest.fixture
def server() -> Iterator[SoundServer]:
    with SoundServer(["alpha_mic", "alpha_speaker", "bravo_mic", "bravo_speaker"]) as s:
        yield s


@pytest.fixture
def cluster(server: SoundServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    # the daemons (and the CLI) inherit this: PortAudio's ALSA sees the server's devices
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    with Cluster() as c:
        yield c


def _clip(out: Path) -> Path:
    """The first CLIP_SECONDS of the shipped speech clip (16 kHz mono)."""
    with wave.open(str(speech_sample())) as src:
        rate = src.getframerate()
        frames = src.readframes(int(CLIP_SECONDS * rate))
        params = src.getparams()
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    return out


def _samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(
            np.float64
        ), wav.getframerate()


def _loud_windows(samples: np.ndarray, rate: int) -> np.ndarray:
    """Which 10 ms windows hold sound (True) and which silence."""
    size = rate // 100
    windows = samples[: len(samples) // size * size].reshape(-1, size)
    loud: np.ndarray = np.sqrt((windows**2).mean(axis=1)) > LOUD
    return loud


def _aligned(heard: Path, clip: Path, out: Path) -> Path:
    """The stretch of ``heard`` where the clip is, as a new WAV file.

    The recording starts well before the call does. PESQ finds and follows the delay between the
    two signals, but its first estimate is thrown off by a long lead-in, so the clip is found first
    (the peak of the cross-correlation) and the recording cut there.
    """
    recorded, rate = _samples(heard)
    said, clip_rate = _samples(clip)
    said = soxr.resample(said, clip_rate, rate)
    size = 1 << (len(recorded) + len(said)).bit_length()
    correlation = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(said, size)), size)
    start = int(np.argmax(correlation[: len(recorded)]))
    kept = recorded[start : start + len(said)].astype("<i2")
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(kept.tobytes())
    return out


def test_a_call_through_sound_cards_carries_speech_both_ways(
    server: SoundServer, cluster: Cluster, tmp_path: Path
) -> None:
    a = cluster.add("alpha", audio=AudioSettings(input="hotline_alpha_mic", output="hotline_alpha_speaker"))
    # bravo names its devices by a part of the name, as an operator may ("bravo_mic" fits one device)
    b = cluster.add("bravo", audio=AudioSettings(input="bravo_mic", output="bravo_speaker"))
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    clip = _clip(tmp_path / "clip.wav")
    heard_by = {
        station.name: server.record(f"{station.name}_speaker", tmp_path / f"{station.name}.raw")
        for station in (a, b)
    }
    try:
        answer = CliProcess(b, "answer", a.name, "--wait", "20")
        call = CliProcess(a, "call", b.name, "--seconds", str(CALL_SECONDS))
        sas = call.next_event("answered")["sas"]
        assert answer.next_event("answered")["sas"] == sas
        players = [server.play(f"{station.name}_mic", clip) for station in (a, b)]
        for player in players:
            assert player.wait(30) == 0, f"paplay failed: {player.stderr.read() if player.stderr else ''}"
        ended_a, ended_b = call.result(), answer.result()
    finally:
        recordings = {name: rec.stop(tmp_path / f"heard-by-{name}.wav") for name, rec in heard_by.items()}
    assert ended_a["end_reason"] == "hangup" and ended_b["end_reason"] == "remote-hangup"
    assert ended_a["path"] == ended_b["path"] == "udp"
    for station, ended in ((a, ended_a), (b, ended_b)):
        print(f"{station.name} got {ended['loss']} % concealed, jitter buffer {ended['delay_ms']} ms")
    for listener, speaker in ((b.name, a.name), (a.name, b.name)):
        heard = recordings[listener]
        samples, rate = _samples(heard)
        assert rate == RATE and len(samples) / rate > CLIP_SECONDS, f"{listener} recorded too little"
        spoken = _loud_windows(samples, rate).mean() * len(samples) / rate
        said = _loud_windows(*_samples(clip)).mean() * CLIP_SECONDS
        assert spoken > 0.8 * said, (
            f"{listener} heard {spoken:.1f} s of sound of the {said:.1f} s {speaker} said"
        )
        aligned = _aligned(heard, clip, tmp_path / f"aligned-{listener}.wav")
        quality = pesq_wb(clip, aligned)
        print(f"{speaker} -> {listener} through sound cards: PESQ-WB {quality:.2f}, {spoken:.1f} s of sound")
        assert quality >= FLOOR, f"{listener} heard {speaker} at PESQ-WB {quality:.2f}, under {FLOOR}"
