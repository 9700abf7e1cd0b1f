"""The receive side's jitter buffer: frames arrive when the network likes, and leave every 20 ms.

This is a sans-IO object. It owns no clock: the caller passes ``now`` (seconds, monotonic, never going
backwards) to :meth:`JitterBuffer.push` when a frame arrives and to :meth:`JitterBuffer.pop` on every
tick of its 20 ms playout clock. It never decodes audio either; it only decides *which* frame the
decoder should see next, or that there is none and the decoder should conceal.

Theory of operation. Payload ``i`` would ideally arrive at ``base + i * 0.02``, where ``base`` is
the earliest arrival we have seen, measured against the frame numbers. Every payload gives one sample
of its lateness (we see it as the push of its frame with ``age=0``), and over a sliding window a high
percentile of it is the jitter estimate. That covers the network's jitter, but not loss: a frame
whose payload was lost arrives as a copy in the next payload, 20 ms later, or in the one after, 40 ms
later, and those deeper rescues are too rare for a percentile to see, yet each one missed is a
concealed frame. So we also estimate the loss rate ``p`` (the share of frames whose own payload never
came, judged over a long window) and wait for as many copies ``k`` as it takes to make
``p ** (k + 1)``, the chance that all of them are lost too, smaller than ``residual_loss``. ``k`` never
exceeds the deepest copy the sender has shown us, plus one for the next frame's in-band FEC. The
target playout delay is ``jitter + k * 20 ms`` plus a small margin, clamped to
``[min_delay, max_delay]``. On a clean line it sits at ``min_delay``.

The playout point moves towards the target in whole frames, and only where it costs least. The
caller tells :meth:`JitterBuffer.pop` when we are in a pause in speech (``quiet``):

* too little delay: in a pause, or when the next frame is missing anyway, we play a concealed frame
  *without* consuming its number (:attr:`Playout.inserted`), so the frame still gets its turn;
* too much delay: in a pause, we skip a frame at once; in speech, only after the delay has stayed
  high for ``drop_after`` ticks. A stretch or cut in a pause is unheard (and PESQ agrees: the
  same stretch in mid-word cost 0.3-0.4 MOS in our quality test).

Memory is bounded whatever is pushed: at most ``max_ahead`` frames are buffered, numbers beyond
``next + max_ahead`` are refused, and the bookkeeping of seen numbers only reaches back ``HISTORY``
frames. If the sender's numbering jumps (a restart, a long pause), every push looks late or far
ahead; after ``RESYNC_AFTER`` such pushes in a row we start over from the new numbers.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

from hotline.voice.errors import VoiceError
from hotline.voice.payload import MAX_FRAME_BYTES

#: Seconds of audio per frame.
FRAME_SECONDS = 0.02
#: How far back we remember which frame numbers we have seen, to tell duplicates from late frames.
HISTORY = 64
#: Pushes in a row that are late or too far ahead before we assume the sender's numbering jumped.
RESYNC_AFTER = 50
#: We judge whether a frame's own payload was lost this many frames after its turn, when a payload
#: still on its way would be useless anyway.
JUDGE_LAG = 10
#: Payloads carry at most 255 frames; deeper "copies" than this are not worth waiting for anyway.
_MAX_DEPTH = 16


class PlayoutKind(enum.Enum):
    """What the decoder should do for one 20 ms tick."""

    #: Decode :attr:`Playout.frame`, the frame numbered :attr:`Playout.index`.
    FRAME = "frame"
    #: Frame :attr:`Playout.index` is missing but the one after it is here: :attr:`Playout.frame` is
    #: that later frame; recover the missing one from its in-band FEC.
    FEC = "fec"
    #: Frame :attr:`Playout.index` is missing: conceal it (Opus PLC).
    CONCEAL = "conceal"
    #: Playout has not started: play silence.
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Playout:
    """The jitter buffer's verdict for one tick."""

    #: What to do.
    kind: PlayoutKind
    #: The frame number this tick stands for; ``None`` for :attr:`PlayoutKind.WAIT`.
    index: int | None
    #: The encoded frame to decode (:attr:`PlayoutKind.FRAME`) or to take FEC from
    #: (:attr:`PlayoutKind.FEC`); empty otherwise.
    frame: bytes = b""
    #: A concealment inserted to grow the delay: ``index`` was not consumed and comes next.
    inserted: bool = False


@dataclass(frozen=True, slots=True)
class JitterStats:
    """A snapshot of a :class:`JitterBuffer`'s counters.

    ``received == accepted + duplicates + late + rejected``, and every pop is exactly one of
    ``played``, ``fec_recovered``, ``concealed``, ``inserted`` or ``waited``.
    """

    #: Frames pushed, of every kind.
    received: int
    #: Frames taken into the buffer.
    accepted: int
    #: Frames pushed again (redundant copies of frames we already had).
    duplicates: int
    #: Frames that arrived after their turn had passed.
    late: int
    #: Frames refused: empty, too big, negative number, too far ahead, or the buffer was full.
    rejected: int
    #: Ticks that played a received frame.
    played: int
    #: Ticks that recovered a missing frame from the next one's in-band FEC.
    fec_recovered: int
    #: Ticks that concealed a missing frame (it is lost).
    concealed: int
    #: Ticks that concealed to grow the delay, consuming no frame.
    inserted: int
    #: Frames skipped to shrink the delay.
    dropped: int
    #: Ticks before playout started.
    waited: int
    #: Times the sender's numbering jumped and we started over.
    resyncs: int
    #: The delay we aim for, in milliseconds.
    target_delay_ms: float
    #: The current jitter estimate, in milliseconds.
    jitter_ms: float
    #: The estimated share of payloads lost (0..1).
    loss_rate: float
    #: How late the last tick played its frame against the earliest arrival seen, in milliseconds.
    delay_ms: float
    #: Frames waiting in the buffer.
    buffered: int


class JitterBuffer:
    """An adaptive jitter buffer for one direction of one call. Not safe for concurrent use.

    Args:
        min_delay: the smallest target delay, in seconds (one frame covers the tick's phase).
        max_delay: the largest target delay, in seconds.
        margin: seconds added to the jitter estimate.
        percentile: the share of frames (0..1) whose network jitter the delay should cover.
        window: how many recent arrivals the jitter estimate looks at.
        residual_loss: the share of frames we accept to conceal because all their copies were lost.
        loss_window: how many recent frames the loss estimate looks at.
        loss_prior: the loss estimate treats fewer judged frames than this as that many, the rest
            received, so that it starts cautious.
        max_ahead: the most frames buffered, and how far ahead of playout a frame may be.
        drop_after: ticks the delay must stay a frame above target, with no pause to take the cut
            in, before we drop a frame in the middle of speech.

    Raises:
        VoiceError: a setting is out of range.
    """

    def __init__(
        self,
        *,
        min_delay: float = 0.02,
        max_delay: float = 0.3,
        margin: float = 0.01,
        percentile: float = 0.98,
        window: int = 250,
        residual_loss: float = 0.001,
        loss_window: int = 1000,
        loss_prior: int = 200,
        max_ahead: int = 500,
        drop_after: int = 250,
    ) -> None:
        if not 0 <= min_delay <= max_delay:
            raise VoiceError("need 0 <= min_delay <= max_delay")
        if not 0 < percentile <= 1 or not 0 < residual_loss < 1:
            raise VoiceError("percentile must be in (0, 1] and residual_loss in (0, 1)")
        if window < 1 or loss_window < 1 or max_ahead < 2 or drop_after < 1:
            raise VoiceError("window, loss_window, max_ahead and drop_after must be positive")
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._margin = margin
        self._percentile = percentile
        self._residual_loss = residual_loss
        self._loss_prior = min(loss_prior, loss_window)
        self._max_ahead = max_ahead
        self._drop_after = drop_after

        self._buffer: dict[int, bytes] = {}
        self._seen: set[int] = set()
        #: Each payload's arrival as ``now - index * FRAME_SECONDS``: its lateness plus a constant.
        self._samples: deque[float] = deque(maxlen=window)
        #: Frames whose own payload arrived, until they are judged.
        self._primaries: set[int] = set()
        #: For each judged frame, whether its own payload was lost.
        self._losses: deque[bool] = deque(maxlen=loss_window)
        self._lost = 0
        self._judged: int | None = None
        #: The deepest redundant copy seen since playout started.
        self._depth = 0
        self._loss_rate = 0.0
        self._copies = 0
        self._dirty = False
        self._next: int | None = None
        self._base = 0.0
        self._jitter = 0.0
        self._target = min_delay
        self._delay = 0.0
        self._over = 0
        self._stale = 0

        self._received = 0
        self._accepted = 0
        self._duplicates = 0
        self._late = 0
        self._rejected = 0
        self._played = 0
        self._fec = 0
        self._concealed = 0
        self._inserted = 0
        self._dropped = 0
        self._waited = 0
        self._resyncs = 0

    @property
    def next_index(self) -> int | None:
        """The number of the frame the next tick plays, or ``None`` before playout starts."""
        return self._next

    @property
    def accepted(self) -> int:
        """Frames taken into the buffer so far (cheaper than :attr:`stats` on every push)."""
        return self._accepted

    @property
    def stats(self) -> JitterStats:
        """A snapshot of the counters."""
        return JitterStats(
            received=self._received,
            accepted=self._accepted,
            duplicates=self._duplicates,
            late=self._late,
            rejected=self._rejected,
            played=self._played,
            fec_recovered=self._fec,
            concealed=self._concealed,
            inserted=self._inserted,
            dropped=self._dropped,
            waited=self._waited,
            resyncs=self._resyncs,
            target_delay_ms=self._target * 1000,
            jitter_ms=self._jitter * 1000,
            loss_rate=self._loss_rate,
            delay_ms=self._delay * 1000,
            buffered=len(self._buffer),
        )

    def push(self, index: int, frame: bytes, now: float, *, age: int = 0) -> None:
        """Call when frame number ``index`` arrives at time ``now``, primary or redundant copy alike.

        Duplicates, late frames and frames we cannot take are counted and ignored.

        Args:
            index: the frame's number.
            frame: the encoded frame.
            now: the arrival time, in seconds.
            age: 0 if the frame came in its own payload, ``k`` if it is a copy in the payload of frame
                ``index + k``. It feeds the loss estimate; the default suits callers without copies.
        """
        self._received += 1
        if index < 0 or age < 0 or not frame or len(frame) > MAX_FRAME_BYTES:
            self._rejected += 1
            return
        self._depth = max(self._depth, min(age, _MAX_DEPTH))
        if age == 0:
            # Every payload has exactly one frame of age 0, so this samples each payload's lateness
            # once, even when a copy of its frame overtook it.
            self._sample(index, now)
        if index in self._seen:
            self._duplicates += 1
            self._note_primary(index, age)
            return
        late = self._next is not None and index < self._next
        too_far = len(self._buffer) >= self._max_ahead or (
            self._next is not None and index >= self._next + self._max_ahead
        )
        if late or too_far:
            self._stale += 1
            if self._stale >= RESYNC_AFTER:
                self._resync()
                if age == 0:
                    self._sample(index, now)
            elif late:
                assert self._next is not None
                self._late += 1
                if index >= self._next - HISTORY:
                    self._seen.add(index)
                    self._note_primary(index, age)
                return
            else:
                self._rejected += 1
                return
        self._stale = 0
        self._accepted += 1
        self._buffer[index] = bytes(frame)
        self._seen.add(index)
        self._note_primary(index, age)

    def pop(self, now: float, *, quiet: bool = False) -> Playout:
        """Call on every 20 ms tick of the playout clock: what to play now.

        Args:
            now: the time of the tick, in seconds.
            quiet: the frame played on the previous tick was (near) silent. The delay then changes
                at once, where a skipped or stretched frame goes unheard; otherwise we only stretch
                over a frame that is missing anyway, and only skip after ``drop_after`` ticks.
        """
        self._update_estimate()
        if self._next is None:
            if not self._buffer:
                return self._wait()
            first = min(self._buffer)
            if now - (self._base + first * FRAME_SECONDS) < self._target:
                return self._wait()
            self._next = first
            self._judged = first - 1
        index = self._next
        self._delay = now - (self._base + index * FRAME_SECONDS)
        self._judge(index - JUDGE_LAG)
        self._prune_seen()
        below = self._delay < self._target - FRAME_SECONDS / 2

        if index in self._buffer and not (below and quiet):
            self._over = self._over + 1 if self._delay > self._target + FRAME_SECONDS else 0
            if self._over >= (1 if quiet else self._drop_after) and index + 1 in self._buffer:
                # Above target: skip one frame. The decoder's state runs on from the frame
                # before, which is closer to seamless than decoding and discarding.
                self._over = 0
                self._dropped += 1
                del self._buffer[index]
                index += 1
            self._next = index + 1
            self._played += 1
            return Playout(PlayoutKind.FRAME, index, self._buffer.pop(index))

        if below:
            # Below target, and the frame is missing or we are in a pause: stretch by one frame.
            self._inserted += 1
            return Playout(PlayoutKind.CONCEAL, index, inserted=True)
        self._next = index + 1
        later = self._buffer.get(index + 1)
        if later is not None:
            self._fec += 1
            return Playout(PlayoutKind.FEC, index, later)
        self._concealed += 1
        return Playout(PlayoutKind.CONCEAL, index)

    def _wait(self) -> Playout:
        self._waited += 1
        return Playout(PlayoutKind.WAIT, None)

    def _sample(self, index: int, now: float) -> None:
        self._samples.append(now - index * FRAME_SECONDS)
        self._dirty = True

    def _note_primary(self, index: int, age: int) -> None:
        if age == 0 and (self._judged is None or index > self._judged):
            self._primaries.add(index)

    def _judge(self, upto: int) -> None:
        """Record, for every frame up to ``upto`` not yet judged, whether its own payload was lost."""
        assert self._judged is not None
        while self._judged < upto:
            self._judged += 1
            lost = self._judged not in self._primaries
            self._primaries.discard(self._judged)
            if len(self._losses) == self._losses.maxlen and self._losses[0]:
                self._lost -= 1
            self._losses.append(lost)
            self._lost += lost
            self._dirty = True

    def _update_estimate(self) -> None:
        if not self._dirty or not self._samples:
            return
        self._dirty = False
        ordered = sorted(self._samples)
        self._base = ordered[0]
        rank = min(len(ordered) - 1, max(0, math.ceil(self._percentile * len(ordered)) - 1))
        self._jitter = ordered[rank] - self._base
        # Until we have judged enough frames, count the unjudged ones as received: one early loss
        # must not read as a disastrous line and send the delay up and back down again.
        p = self._loss_rate = self._lost / max(len(self._losses), self._loss_prior)
        # Wait for as many copies as it takes for losing them all, too, to be rare enough; one level
        # past the deepest copy seen stands for the next frame's in-band FEC. Wait for fewer only
        # when clearly safe, so the delay does not swing with every estimate.
        copies = self._copies
        while copies <= self._depth and p ** (copies + 1) > self._residual_loss:
            copies += 1
        while copies > 0 and p**copies <= self._residual_loss / 4:
            copies -= 1
        self._copies = copies
        needed = self._jitter + copies * FRAME_SECONDS + self._margin
        self._target = min(max(needed, self._min_delay), self._max_delay)

    def _prune_seen(self) -> None:
        assert self._next is not None
        if len(self._seen) > len(self._buffer) + 2 * HISTORY:
            floor = self._next - HISTORY
            self._seen = {i for i in self._seen if i >= floor}

    def _resync(self) -> None:
        # Nothing usable for a second's worth of pushes: the sender's numbering jumped. Start over.
        self._resyncs += 1
        self._buffer.clear()
        self._seen.clear()
        self._samples.clear()
        self._primaries.clear()
        self._judged = None
        self._depth = 0
        self._copies = 0
        self._next = None
        self._over = 0
        self._stale = 0


__all__ = ["FRAME_SECONDS", "JitterBuffer", "JitterStats", "Playout", "PlayoutKind"]
