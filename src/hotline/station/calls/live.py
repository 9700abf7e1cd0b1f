"""One live call: its signalling machine, its media clock and what its watchers are told.

A :class:`LiveCall` drives one :class:`hotline.proto.call.Call` (signalling, inside the line's
session) and, once answered, a 20 ms media clock that reads a frame from its source, encodes, seals
and sends it, and plays one frame from the jitter buffer into its sink.

Where media goes: the station that dialled the session sends its first packets to the address it
dialled (the UDP port is the TCP port); the other station learns where to answer from the first
authentic packet (latching, which also passes NATs), and from then on both ends accept packets from
that address only. If no media arrives over UDP for two seconds, both ends carry it inside the
session instead (:class:`hotline.proto.linemsg.CallMedia`), and status says so.

On a line whose session runs a carrier (docs/protocol.md §14) nothing of a call touches UDP: the
signals and every media frame ride in the carrier's VOICE lane from the first frame, so a call does
not change what an observer sees; :class:`hotline.station.calls.voicelane.VoiceLane` keeps that
lane short (speech late is speech lost: a slow carrier costs the call loss, never a growing delay).

The machine is fed one input at a time: what the call does about an event (tell its watchers, give
the SAS verdict it was told to give, raise an alert) may itself be an input (a hang-up), and such an
input waits until the event has been dealt with (see :meth:`LiveCall.pump`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from hotline.net.udp import Address, MediaSocket
from hotline.proto import linemsg
from hotline.proto.call import Answered, Call, CallState, Ended, EndReason, PathChanged, Ringing
from hotline.proto.call import Path as MediaPath
from hotline.proto.linemsg import CallAnswer, CallReveal, CallRinging, CallSignal, LineMessage
from hotline.proto.media import PAYLOAD_ROOM, MediaOpener, MediaSealer, packet_counter
from hotline.station.alertkinds import AlertKind
from hotline.station.calls.audio import SILENCE, Discard, Sink, Source
from hotline.station.calls.needs import CallLine, CallServices, CallSession
from hotline.station.calls.recording import Recorder, log_end, log_start
from hotline.station.calls.voicelane import FRAME, VoiceLane
from hotline.station.errors import StationError
from hotline.station.worker import StoreWorker
from hotline.voice.payload import MAX_PAYLOAD, unpack_payload
from hotline.voice.stream import VoiceReceiver, VoiceSender

log = logging.getLogger("hotline.calls")

#: Seconds between the figures a call sends its watchers.
STATS_EVERY = 1.0
#: Silence sent after a played file ends, before hanging up, so the far end hears the last words.
TAIL = 0.5
#: Recent packet counters whose arrival path is remembered.
_PATHS_KEPT = 512

assert MAX_PAYLOAD <= PAYLOAD_ROOM, "voice payloads must fit a media packet"


def show_call_id(call_id: bytes) -> str:
    """A call id as operators see it: 32 hex digits."""
    return call_id.hex()


@dataclass
class Media:
    """What a call plays and records, and what it does on its own."""

    source: Source
    sink: Sink
    #: Hang up after this many seconds of conversation.
    seconds: float | None = None
    #: Hang up once the source has nothing more to play.
    hangup_at_end: bool = False
    #: Say the SAS matched ("confirm") or did not ("mismatch") as soon as it is known.
    sas: str | None = None

    def close(self) -> None:
        for end in (self.source, self.sink):
            with contextlib.suppress(Exception):
                end.close()


class Switchboard(Protocol):
    """What a live call asks of the desk it is on."""

    @property
    def station(self) -> CallServices: ...

    @property
    def socket(self) -> MediaSocket | None:
        """The station's media socket (None: no UDP, media goes inside the session)."""
        ...

    def trace_file(self, call_id: bytes) -> TextIO | None:
        """Where to write this call's per-frame timings, if anywhere."""
        ...

    def forget(self, call: LiveCall) -> None:
        """The call is over: drop it."""

    def rung(self, call: LiveCall) -> None:
        """An incoming call is logged and rings."""


class LiveCall:
    """One call: its signalling machine, its media clock and what watchers are told.

    Lives on the event loop (not thread-safe); :meth:`run` is its task, from the offer or the ringing
    to the row in the call log.
    """

    def __init__(self, desk: Switchboard, line: CallLine, session: CallSession, machine: Call) -> None:
        self.desk = desk
        self.line = line
        self.session = session
        self.machine = machine
        self.media: Media | None = None
        #: How signals and session media go into the session (bounded, on a carrier line).
        self.voice = VoiceLane(session)
        #: The carrier of the call's session: media and signals ride in its VOICE lane, never UDP.
        self.carrier = self.voice.carrier
        self.sealer: MediaSealer | None = None
        self.opener: MediaOpener | None = None
        #: Where our UDP packets go; None until known.
        self.target: Address | None = (
            session.channel.peer_ip_port if session.initiated and self.carrier is None else None
        )
        #: The address authentic packets come from, once the first one came.
        self.latched: Address | None = None
        self.sender = VoiceSender()
        self.receiver = VoiceReceiver()
        self.sas_confirmed: bool | None = None
        self.started_wall = time.time()
        self.answered_wall: float | None = None
        #: The call's row in the log; nothing of the call is sent or opened before it is written.
        self.rowid: int | None = None
        #: The file an auto-answered call records to (named by the log row, never by the peer: F7).
        self.recording: str | None = None
        self._drops = (0, 0)
        self.counts = {"udp_in": 0, "udp_out": 0, "tcp_in": 0, "tcp_out": 0, "copies": 0, "wrong_address": 0}
        #: How each recent counter arrived (UDP or not), to tell a probe's second copy from a replay.
        self._paths: dict[int, bool] = {}
        self._watchers: set[asyncio.Queue[dict[str, object]]] = set()
        self._ended = asyncio.Event()
        self._source_done_at: float | None = None
        self._record = desk.station.config.line(line.peer).record_calls
        self.recorder: Recorder | None = None
        self._trace = desk.trace_file(machine.call_id)
        #: Inputs for the machine that arrived while it was being pumped: they go in after.
        self._inputs: collections.deque[Callable[[float], None]] = collections.deque()
        self._pumping = False

    # -- what others read

    @property
    def call_id(self) -> bytes:
        return self.machine.call_id

    @property
    def ended(self) -> bool:
        return self.machine.ended

    @property
    def sas(self) -> tuple[str, ...] | None:
        """The four words, once the call's key exchange is done."""
        return self.machine.sas

    @property
    def worker(self) -> StoreWorker:
        """The store worker that keeps the call's log row and recorded audio."""
        return self.desk.station.worker

    def describe(self, now: float | None = None) -> dict[str, object]:
        """The call as status and watchers show it."""
        now = time.time() if now is None else now
        machine = self.machine
        stats = self.receiver.stats
        played = max(1, stats.jitter.played)
        lost = stats.filled_by_plc
        dropped = {
            "forged": self.opener.forged if self.opener else self._drops[0],
            "replayed": self.opener.replayed if self.opener else self._drops[1],
            "wrong_address": self.counts["wrong_address"],
        }
        if self.carrier is not None:
            # frames this end dropped because the carrier's VOICE lane was full (carrier lines only)
            dropped["late"] = self.voice.dropped_late
        described: dict[str, object] = {
            "id": show_call_id(machine.call_id),
            "peer": self.line.peer,
            "direction": "out" if machine.caller else "in",
            "state": machine.state.value,
            "since": self.started_wall,
            "duration": round(now - self.answered_wall, 1) if self.answered_wall else 0.0,
            "path": machine.path.value if machine.answered_at is not None else None,
            "sas": list(self.machine.sas) if self.machine.sas else None,
            "sas_confirmed": self.sas_confirmed,
            "bitrate": self.sender.encoder.bitrate,
            "loss": round(100.0 * lost / played, 2),
            "jitter_ms": round(stats.jitter.jitter_ms, 1),
            "delay_ms": round(stats.jitter.target_delay_ms, 1),
            "packets": dict(self.counts),
            "dropped": dropped,
            "repaired": {"redundancy": stats.filled_by_redundancy, "fec": stats.filled_by_fec},
            "carrier": self.carrier is not None,
        }
        if machine.end_reason is not None:
            described["end_reason"] = machine.end_reason.value
        if self.recording is not None:
            described["recording"] = self.recording
        return described

    def watch(self) -> asyncio.Queue[dict[str, object]]:
        """A queue of this call's events (``ringing``, ``answered``, ``sas``, ``stats``, ``ended``)."""
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[dict[str, object]]) -> None:
        self._watchers.discard(queue)

    async def wait_ended(self) -> None:
        await self._ended.wait()

    # -- what the desk and operators do

    def attach(self, media: Media) -> None:
        """Give the call its sound."""
        if self.media is not None:
            self.media.close()
        self.media = media

    def answer(self, media: Media) -> None:
        """Pick up a ringing incoming call."""
        self.attach(media)
        self._input(self.machine.answer)

    def hangup(self, reason: EndReason = EndReason.HANGUP) -> None:
        """End the call from here, for ``reason`` (a no-op once it has ended)."""
        self._input(lambda now: self.machine.hangup(now, reason))

    def sas_verdict(self, matches: bool) -> None:
        """The operators compared the words: they match, or the call ends with an alert."""
        if self.machine.state is not CallState.ACTIVE:
            raise StationError(
                "no-call", f"the call with {self.line.peer} has no words yet: it is not answered"
            )
        self._verdict(matches)

    def receive(self, message: CallAnswer | CallRinging | CallReveal | CallSignal) -> None:
        """A call message for this call from the far end, on the call's session."""
        self._input(lambda now: self.machine.receive(message, now))

    def line_down(self) -> None:
        """The call's session is gone: the call ends without telling the far end."""
        self._input(self.machine.line_down)

    def on_packet(self, packet: bytes, address: Address | None) -> None:
        """A media packet for this call, over UDP (``address``) or inside the session (None)."""
        if self.opener is None:
            return
        if address is not None and self.carrier is not None:
            # a carrier line's call takes no UDP at all: a datagram for it is someone else's
            self.counts["wrong_address"] += 1
            return
        if address is not None and self.latched is not None and address != self.latched:
            self.counts["wrong_address"] += 1
            return
        udp = address is not None
        counter = packet_counter(packet)
        if counter is not None and self._paths.get(counter, udp) != udp:
            # the copy the far end sent inside the session while it tried UDP: expected, not a
            # replay. A UDP copy that is authentic still proves the UDP path (it may simply have
            # lost the race to its session twin).
            self.counts["copies"] += 1
            if udp and self.opener.authentic(packet):
                self._udp_arrived(address)
            return
        opened = self.opener.open(packet)
        if opened is None:
            return
        self._paths[opened[0]] = udp
        self._paths.pop(opened[0] - _PATHS_KEPT, None)
        now = time.monotonic()
        if udp:
            self._udp_arrived(address)
        else:
            self.counts["tcp_in"] += 1
            self.machine.media_received(now, udp=False)
        self.receiver.receive(opened[1], now)
        if self._trace is not None:
            self._trace.write(f"R {_payload_index(opened[1])} {now:.6f}\n")

    def _udp_arrived(self, address: Address | None) -> None:
        self.counts["udp_in"] += 1
        if self.latched is None:
            self.latched = self.target = address
        self.machine.media_received(time.monotonic(), udp=True)

    # -- signalling

    def _input(self, feed: Callable[[float], None]) -> None:
        """Give the machine one input, ``feed(now)``, then act on what it says (see :meth:`pump`)."""
        self._inputs.append(feed)
        self.pump()

    def pump(self) -> None:
        """Send what the machine wants sent; act on what happened (only once the call is logged).

        Never re-entered: acting on an event may give the machine an input (the SAS verdict given
        as the call is answered hangs up), and that input waits in a queue until the event has been
        dealt with; queued inputs go in one at a time, in order, each followed by what it caused.
        A pump called while another runs below it returns at once and leaves the work to that one.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            while True:
                if self._inputs:
                    self._inputs.popleft()(time.monotonic())
                self._act()
                if not self._inputs:
                    return
        finally:
            self._pumping = False

    def _act(self) -> None:
        if self.rowid is None and not self.machine.ended:
            return
        for message in self.machine.messages_to_send():
            self._send_signal(message)
        while (event := self.machine.next_event()) is not None:
            match event:
                case Ringing():
                    self._tell({"event": "ringing"})
                    if not self.machine.caller:
                        self.desk.station.publish({"call": self.describe()})
                case Answered():
                    self._activate()
                case PathChanged(path):
                    log.info("call media moved", extra={"peer": self.line.peer, "path": path.value})
                    self._tell({"event": "path", "path": path.value})
                case Ended(reason):
                    self._finish(reason)

    def _send_signal(self, message: LineMessage) -> None:
        if self.line.current is self.session and not self.session.channel.is_closed:
            self.voice.signal(linemsg.encode(message))

    def _activate(self) -> None:
        machine = self.machine
        keys = machine.keys
        assert machine.remote_index is not None and keys is not None
        # the sealer and opener hold the only other references to the keys: dropped at the end
        self.sealer = MediaSealer(keys.sending(caller=machine.caller), machine.remote_index, keys.aead)
        self.opener = MediaOpener(keys.receiving(caller=machine.caller), machine.local_index, keys.aead)
        self.answered_wall = time.time()
        self._tell({"event": "answered", "sas": list(keys.sas)})
        log.info("call answered", extra={"peer": self.line.peer, "call": show_call_id(machine.call_id)})
        if self.media is not None and self.media.sas is not None:
            self._verdict(self.media.sas == "confirm")

    def _verdict(self, matches: bool) -> None:
        self.sas_confirmed = matches
        self._tell({"event": "sas-verdict", "matches": matches})
        if not matches:
            # an input, from inside the handling of Answered: it goes in once that is over
            self.hangup(EndReason.SAS_MISMATCH)

    def _finish(self, reason: EndReason) -> None:
        # F9: the call's media keys go with the call (the machine has dropped its own)
        if self.opener is not None:
            self._drops = (self.opener.forged, self.opener.replayed)
        self.sealer = self.opener = None
        if reason is EndReason.BAD_KEYS:
            self.line.alert(
                AlertKind.CALL_BAD_KEYS,
                f"the call with {self.line.peer} ended: its key exchange did not check (a key that "
                "did not match its commitment, or was unusable); someone may be in the middle: check "
                "the line's safety number before calling again",
            )
        if reason is EndReason.SAS_MISMATCH:
            self.line.alert(
                AlertKind.SAS_MISMATCH,
                f"the call with {self.line.peer} ended: the operators' words did not match; "
                "someone may be in the middle: check the line's safety number before calling again",
            )
        log.info("call ended", extra={"peer": self.line.peer, "reason": reason.value})
        self._tell({"event": "ended", "reason": reason.value, "call": self.describe()})
        self.desk.station.publish({"call": self.describe()})

    def _tell(self, event: dict[str, object]) -> None:
        event = {"peer": self.line.peer, "id": show_call_id(self.call_id), **event}
        for queue in self._watchers:
            queue.put_nowait(event)

    # -- the media clock

    async def run(self) -> None:
        """Ring, talk and hang up: until the call ends; then log it and let go of the files."""
        loop = asyncio.get_running_loop()
        try:
            if not await log_start(self):
                self._input(self.machine.refuse)
                return
            self.pump()
            if not self.machine.caller:
                self.desk.rung(self)
            start = loop.time()
            tick = 0
            next_stats = start + STATS_EVERY
            while not self.machine.ended:
                tick += 1
                delay = start + tick * FRAME - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.5:
                    start = loop.time() - tick * FRAME  # we were stopped: pick up from now, not in a rush
                now = loop.time()
                if self.line.current is not self.session and not self.machine.ended:
                    self.machine.line_down(now)
                self.machine.handle_timer(now)
                if self.voice.signals_held:
                    self.voice.send_held_signals()
                if self.machine.state is CallState.ACTIVE and self.sealer is not None:
                    self._tick(now)
                    if now >= next_stats:
                        next_stats = now + STATS_EVERY
                        self._tell({"event": "stats", "call": self.describe()})
                self.pump()
        except Exception as exc:  # a bug must cost this call only
            log.error("call failed", extra={"peer": self.line.peer}, exc_info=exc)
            self.hangup(EndReason.FAILED)
        finally:
            if self.media is not None:
                self.media.close()
            if self._trace is not None:
                self._trace.close()
            self.desk.forget(self)
            self._ended.set()
            await log_end(self)

    def _tick(self, now: float) -> None:
        assert self.sealer is not None and self.media is not None
        media = self.media
        pcm = media.source.read()
        if pcm is None:
            pcm = SILENCE
            if self._source_done_at is None:
                self._source_done_at = now
            if media.hangup_at_end and now - self._source_done_at >= TAIL:
                self.machine.hangup(now)
                return
        payload = self.sender.next_payload(pcm)
        packet = self.sealer.seal(payload)
        if self._trace is not None:
            self._trace.write(f"S {self.sender.index - 1} {now:.6f}\n")
        if self.carrier is not None:
            self.counts["tcp_out"] += self.voice.paced(packet)
        elif self.machine.path is MediaPath.UDP:
            if self.target is not None and self.desk.socket is not None:
                self.desk.socket.send(packet, self.target)
                self.counts["udp_out"] += 1
            if self.counts["udp_in"] == 0:
                # until UDP proves itself both ways, a copy goes inside the session: the start of the
                # call is heard even when the fallback comes two seconds later (the far end keeps
                # whichever copy arrives first)
                self._send_media_in_session(packet)
        else:
            self._send_media_in_session(packet)
        heard = self.receiver.play(now)
        if self._trace is not None:
            last = self.receiver.last
            if last is not None:
                target = self.receiver.jitter.stats.target_delay_ms
                self._trace.write(f"P {last.index} {now:.6f} {last.kind.name} {target:.1f}\n")
        try:
            media.sink.write(heard)
        except Exception as exc:
            # the error names the operator's file: the log gets its kind only (no paths in logs)
            log.error("recording failed", extra={"peer": self.line.peer, "error": type(exc).__name__})
            media.sink = Discard()
        if self._record and self.recorder is None and self.rowid is not None:
            self.recorder = Recorder(self.worker, self.rowid)
        if self.recorder is not None:
            self.recorder.add(self.sender.last_frame, heard)
        answered = self.machine.answered_at
        if media.seconds is not None and answered is not None and now - answered >= media.seconds:
            self.machine.hangup(now)

    def _send_media_in_session(self, packet: bytes) -> None:
        if self.voice.media(packet):
            self.counts["tcp_out"] += 1


def _payload_index(payload: bytes) -> int:
    try:
        return unpack_payload(payload)[0]
    except Exception:
        return -1


__all__ = ["FRAME", "STATS_EVERY", "TAIL", "LiveCall", "Media", "Switchboard", "show_call_id"]
