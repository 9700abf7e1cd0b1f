"""Voice for the Hotline: PCM frames to small payloads and back, holding up under packet loss.

One direction of a call is a :class:`VoiceSender` at one station and a :class:`VoiceReceiver` at the
other. The sender turns each 20 ms of 48 kHz mono 16-bit PCM into one payload (an Opus frame plus
copies of the three frames before it; Opus in-band FEC only when there are no copies, because it
takes its bits from the frame itself); the network side seals, pads and sends it. The
receiver takes payloads as they come, and its jitter buffer decides, every 20 ms, whether to decode a
frame, recover one from FEC, or conceal a gap.

Everything that handles the stream is sans-IO (no clock, sockets or randomness: the caller passes
``now``). :mod:`hotline.voice.wavio` and :mod:`hotline.voice.quality` read and write files, for tests
and line checks.
"""

from __future__ import annotations

from hotline.voice.codec import FRAME_BYTES, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder
from hotline.voice.errors import PayloadError, VoiceError
from hotline.voice.jitter import JitterBuffer, JitterStats, Playout, PlayoutKind
from hotline.voice.payload import MAX_PAYLOAD, pack_payload, unpack_payload
from hotline.voice.quality import pesq_wb, speech_sample
from hotline.voice.stream import ReceiverStats, VoiceReceiver, VoiceSender
from hotline.voice.wavio import WavSink, WavSource

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "MAX_PAYLOAD",
    "SAMPLE_RATE",
    "Decoder",
    "Encoder",
    "JitterBuffer",
    "JitterStats",
    "PayloadError",
    "Playout",
    "PlayoutKind",
    "ReceiverStats",
    "VoiceError",
    "VoiceReceiver",
    "VoiceSender",
    "WavSink",
    "WavSource",
    "pack_payload",
    "pesq_wb",
    "speech_sample",
    "unpack_payload",
]
