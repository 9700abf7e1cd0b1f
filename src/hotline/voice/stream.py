"""The two ends of one direction of a call: PCM frames in, payloads out, and back to PCM.

:class:`VoiceSender` encodes each 20 ms frame and packs it with copies of the frames before it.
:class:`VoiceReceiver` unpacks payloads into a :class:`~hotline.voice.jitter.JitterBuffer` and, on
each tick of the playout clock, turns the buffer's verdict into exactly one frame of PCM.

Both are sans-IO: the network side hands us payload bytes and ``now``, and asks for PCM when its
clock ticks. Neither ever raises on what the far end sends: a malformed payload or a corrupt frame is
counted and concealed, because a call is no place for an exception.

A hole in the stream is filled, in order of preference, by a redundant copy (arrived in a later
payload, in time thanks to the jitter buffer's target delay), by the next frame's in-band FEC, and
last by Opus concealment. The receiver also watches the level of what it plays, so that the jitter
buffer can move the playout point in pauses rather than mid-word. The decoder sees frames strictly
in order; a copy that turns up after its
frame was concealed is too late and is ignored, since feeding it would break the decoder's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hotline.voice.codec import FRAME_BYTES, Decoder, Encoder
from hotline.voice.errors import PayloadError, VoiceError
from hotline.voice.jitter import JitterBuffer, JitterStats, Playout, PlayoutKind
from hotline.voice.payload import pack_payload, unpack_payload

#: Default number of earlier frames repeated in each payload. With the default 32 kbit/s encoder a
#: payload is then 334 bytes; three copies hold 15 % random loss to PESQ-WB 3.7+ in the quality test.
DEFAULT_REDUNDANCY = 3
_SILENCE = bytes(FRAME_BYTES)
#: Below this RMS (about -45 dBFS) a frame counts as quiet.
QUIET_RMS = 180.0
#: After this many quiet frames in a row we are in a pause, where the jitter buffer may stretch or cut
#: the stream unheard. A gap between two words is shorter; a stretch there still shows.
PAUSE_FRAMES = 5


class VoiceSender:
    """Encodes and packs one direction of a call. Not safe for concurrent use.

    Call :meth:`next_payload` exactly once per 20 ms of audio, silence included: the frame numbers are
    the receiver's clock, so skipping frames during a pause would look like loss to it.

    Args:
        encoder: the Opus encoder. If ``None``, a default :class:`~hotline.voice.codec.Encoder` with
            in-band FEC only when ``redundancy`` is 0: full copies protect better than Opus's coarse
            in-band copy, and the in-band copy's bits come out of the primary's quality (at
            32 kbit/s PESQ-WB drops from 4.3 to 3.6 with it on; see the quality test).
        redundancy: how many earlier frames to repeat in each payload (0..8).

    Raises:
        VoiceError: ``redundancy`` is out of range.
    """

    def __init__(self, encoder: Encoder | None = None, redundancy: int = DEFAULT_REDUNDANCY) -> None:
        if not 0 <= redundancy <= 8:
            raise VoiceError(f"redundancy {redundancy} is out of range; repeat 0..8 earlier frames")
        self._encoder = encoder if encoder is not None else Encoder(fec=redundancy == 0)
        self._redundancy = redundancy
        self._recent: list[bytes] = []
        self._last = b""
        self._index = 0

    @property
    def index(self) -> int:
        """The number of the next frame to send."""
        return self._index

    @property
    def last_frame(self) -> bytes:
        """The Opus frame encoded last (empty before the first), e.g. to keep a recording."""
        return self._recent[0] if self._recent else self._last

    @property
    def encoder(self) -> Encoder:
        """The encoder, e.g. to call :meth:`~hotline.voice.codec.Encoder.set_expected_loss`."""
        return self._encoder

    def next_payload(self, pcm: bytes) -> bytes:
        """Encode the next 20 ms of audio and return its payload.

        Args:
            pcm: exactly :data:`~hotline.voice.codec.FRAME_BYTES` bytes of 48 kHz mono s16le.

        Returns:
            At most :data:`~hotline.voice.payload.MAX_PAYLOAD` bytes.

        Raises:
            VoiceError: ``pcm`` is the wrong size, or the codec failed.
        """
        frame = self._last = self._encoder.encode(pcm)
        payload = pack_payload(self._index, [frame, *self._recent])
        self._recent = [frame, *self._recent][: self._redundancy]
        self._index += 1
        return payload


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """A snapshot of a :class:`VoiceReceiver`'s counters."""

    #: The jitter buffer's counters.
    jitter: JitterStats
    #: Payloads dropped because they did not parse.
    malformed: int
    #: Frames that parsed but libopus could not decode (concealed instead).
    corrupt: int
    #: Frames played from a redundant copy because their own payload never came (or came too late).
    filled_by_redundancy: int
    #: Missing frames recovered from the next frame's in-band FEC.
    filled_by_fec: int
    #: Missing frames concealed (Opus PLC), not counting concealments inserted to grow the delay.
    filled_by_plc: int


class VoiceReceiver:
    """Unpacks, buffers and decodes one direction of a call. Not safe for concurrent use.

    Args:
        decoder: the Opus decoder; a fresh :class:`~hotline.voice.codec.Decoder` if ``None``.
        jitter: the jitter buffer; a default :class:`~hotline.voice.jitter.JitterBuffer` if ``None``.
    """

    def __init__(self, decoder: Decoder | None = None, jitter: JitterBuffer | None = None) -> None:
        self._decoder = decoder if decoder is not None else Decoder()
        self._jitter = jitter if jitter is not None else JitterBuffer()
        self._malformed = 0
        self._corrupt = 0
        self._by_redundancy = 0
        self._by_fec = 0
        self._by_plc = 0
        self._quiet_run = PAUSE_FRAMES
        self._last: Playout | None = None
        #: Frames buffered only thanks to a redundant copy, until they are played or passed over.
        self._from_copies: set[int] = set()

    @property
    def jitter(self) -> JitterBuffer:
        """The jitter buffer."""
        return self._jitter

    @property
    def last(self) -> Playout | None:
        """What the last :meth:`play` played (None before the first)."""
        return self._last

    @property
    def stats(self) -> ReceiverStats:
        """A snapshot of the counters."""
        return ReceiverStats(
            jitter=self._jitter.stats,
            malformed=self._malformed,
            corrupt=self._corrupt,
            filled_by_redundancy=self._by_redundancy,
            filled_by_fec=self._by_fec,
            filled_by_plc=self._by_plc,
        )

    def receive(self, payload: bytes, now: float) -> None:
        """Call when a payload arrives at time ``now``. Never raises; malformed payloads are counted."""
        try:
            index, frames = unpack_payload(payload)
        except PayloadError:
            self._malformed += 1
            return
        # Primary first: its push is the payload's lateness sample; the copies only fill holes.
        for age, frame in enumerate(frames):
            if age == 0:
                self._jitter.push(index, frame, now)
                continue
            before = self._jitter.accepted
            self._jitter.push(index - age, frame, now, age=age)
            if self._jitter.accepted != before:
                self._from_copies.add(index - age)

    def play(self, now: float) -> bytes:
        """Call on every 20 ms tick of the playout clock: exactly one frame of PCM to play now.

        Never raises: a frame libopus cannot decode is counted and concealed.
        """
        playout = self._last = self._jitter.pop(now, quiet=self._quiet_run >= PAUSE_FRAMES)
        pcm = self._render(playout)
        self._quiet_run = min(self._quiet_run + 1, PAUSE_FRAMES) if _rms(pcm) < QUIET_RMS else 0
        return pcm

    def _render(self, playout: Playout) -> bytes:
        if playout.kind is PlayoutKind.WAIT or playout.index is None:
            return _SILENCE
        self._forget_copies(playout.index)
        try:
            match playout.kind:
                case PlayoutKind.FRAME:
                    pcm = self._decoder.decode(playout.frame)
                    if playout.index in self._from_copies:
                        self._from_copies.discard(playout.index)
                        self._by_redundancy += 1
                    return pcm
                case PlayoutKind.FEC:
                    pcm = self._decoder.decode_fec(playout.frame)
                    self._by_fec += 1
                    return pcm
                case PlayoutKind.CONCEAL:
                    if not playout.inserted:
                        self._by_plc += 1
                    return self._decoder.conceal()
        except VoiceError:
            self._corrupt += 1
        return self._conceal_quietly()

    def _conceal_quietly(self) -> bytes:
        try:
            return self._decoder.conceal()
        except VoiceError:
            return _SILENCE

    def _forget_copies(self, index: int) -> None:
        if len(self._from_copies) > 256:
            self._from_copies = {i for i in self._from_copies if i >= index}


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.dot(samples, samples) / len(samples)))


__all__ = ["DEFAULT_REDUNDANCY", "PAUSE_FRAMES", "QUIET_RMS", "ReceiverStats", "VoiceReceiver", "VoiceSender"]
