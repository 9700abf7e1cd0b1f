"""Speech quality, measured: PESQ-WB between what was said and what came out of the line.

This is how we hold the voice path to its goals (see tests/unit/voice/test_quality.py) and how an
operator's line check can put a number on a call. PESQ (ITU-T P.862.2, wideband) scores 16 kHz
speech as a MOS-LQO from about 1 (bad) to 4.64 (transparent).

The ``pesq`` package is a development dependency, not a runtime one, so it, numpy and soxr are
imported only when a measurement is asked for; importing :mod:`hotline.voice` stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from hotline.voice.errors import VoiceError

#: PESQ-WB works on 16 kHz audio.
PESQ_RATE = 16000


def pesq_wb(reference: Path, degraded: Path) -> float:
    """The PESQ-WB score (MOS-LQO) of ``degraded`` against ``reference``.

    Both files are read whole, downmixed, resampled to 16 kHz and trimmed to the shorter length;
    PESQ itself finds and compensates the delay between them.

    Raises:
        VoiceError: a file is missing or not a PCM WAV, the ``pesq`` package is not installed, or PESQ
            cannot score the pair (for instance, no speech found).
    """
    try:
        import pesq  # type: ignore[import-untyped]
    except ImportError:
        raise VoiceError(
            "measuring speech quality needs the pesq package: pip install 'hotline[dev]'"
        ) from None
    import numpy as np
    import soxr  # type: ignore[import-untyped]

    from hotline.voice.wavio import read_mono

    signals = []
    for path in (Path(reference), Path(degraded)):
        samples, rate = read_mono(path)
        if rate != PESQ_RATE:
            samples = soxr.resample(samples, rate, PESQ_RATE, "HQ")
        signals.append(np.asarray(samples, dtype=np.float32))
    length = min(len(s) for s in signals)
    ref, deg = (s[:length] for s in signals)
    try:
        score = pesq.pesq(PESQ_RATE, ref, deg, "wb")
    except (pesq.PesqError, ValueError) as exc:
        raise VoiceError(
            f"PESQ cannot score {degraded} against {reference}: {exc or type(exc).__name__}"
        ) from None
    return float(score)


def speech_sample() -> Path:
    """The speech clip shipped with the package (16 kHz mono, about 9 s; see samples/README.md)."""
    return Path(__file__).resolve().parent / "samples" / "speech.wav"


__all__ = ["PESQ_RATE", "pesq_wb", "speech_sample"]
