"""Voice calls at run time: the station's call desk and each live call (docs/protocol.md §12).

The :class:`CallDesk` owns the station's media socket (UDP, on the same port number as the TCP
listener) and knows every call: by line, one at a time, and by the receiver index that each media
packet carries. A :class:`LiveCall` drives one :class:`hotline.proto.call.Call` (signalling, inside
the line's session) and, once answered, a 20 ms media clock that reads a frame from its source,
encodes, seals and sends it, and plays one frame from the jitter buffer into its sink.

Where media goes: the station that dialled the session sends its first packets to the address it
dialled (the UDP port is the TCP port); the other station learns where to answer from the first
authentic packet (latching, which also passes NATs), and from then on both ends accept packets from
that address only. If no media arrives over UDP for two seconds, both ends carry it inside the
session instead (:class:`hotline.proto.linemsg.CallMedia`), and status says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.crypto.mlkem import MLKEM768
from hotline.crypto.random import random_bytes
from hotline.net.tcp import ChannelClosed
from hotline.net.udp import Address, MediaSocket, bind
from hotline.proto import linemsg
from hotline.proto.call import Answered, Call, CallState, Ended, EndReason, PathChanged, Ringing
from hotline.proto.call import Path as MediaPath
from hotline.proto.callkeys import DH_SECRET_LEN, KEM_SEED_LEN
from hotline.proto.linemsg import (
    CallAnswer,
    CallMedia,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessage,
    Signal,
)
from hotline.proto.media import PAYLOAD_ROOM, MediaOpener, MediaSealer, packet_counter, packet_index
from hotline.station.audio import SILENCE, Discard, Silence, Sink, Source, WavFileSink, WavFileSource
from hotline.station.calllog import Recorder, log_end, log_start
from hotline.station.errors import StationError
from hotline.voice.payload import MAX_PAYLOAD
from hotline.voice.stream import VoiceReceiver, VoiceSender

if TYPE_CHECKING:
    from hotline.station.lines.line import LineRuntime, LinkSession
    from hotline.station.service import Station

log = logging.getLogger("hotline.calls")

#: The media clock's tick: one Opus frame.
FRAME = 0.020
#: Seconds between the figures a call sends its watchers.
STATS_EVERY = 1.0
#: Silence sent after a played file ends, before hanging up, so the far end hears the last words.
TAIL = 0.5
#: Recent packet counters whose arrival path is remembered.
_PATHS_KEPT = 512
#: Set to a directory to write each call's per-frame timings there (for ``make bench``).
TRACE_ENV = "HOTLINE_VOICE_TRACE"

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


class LiveCall:
    """One call: its signalling machine, its media clock and what watchers are told."""

    def __init__(self, desk: CallDesk, line: LineRuntime, session: LinkSession, machine: Call) -> None:
        self.desk = desk
        self.line = line
        self.session = session
        self.machine = machine
        self.media: Media | None = None
        self.sealer: MediaSealer | None = None
        self.opener: MediaOpener | None = None
        #: Where our UDP packets go; None until known.
        self.target: Address | None = session.channel.peer_ip_port if session.initiated else None
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

    def describe(self, now: float | None = None) -> dict[str, object]:
        """The call as status and watchers show it."""
        now = time.time() if now is None else now
        machine = self.machine
        stats = self.receiver.stats
        played = max(1, stats.jitter.played)
        lost = stats.filled_by_plc
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
            "dropped": {
                "forged": self.opener.forged if self.opener else self._drops[0],
                "replayed": self.opener.replayed if self.opener else self._drops[1],
                "wrong_address": self.counts["wrong_address"],
            },
            "repaired": {"redundancy": stats.filled_by_redundancy, "fec": stats.filled_by_fec},
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
        self.machine.answer(time.monotonic())
        self.pump()

    def hangup(self, reason: EndReason = EndReason.HANGUP) -> None:
        self.machine.hangup(time.monotonic(), reason)
        self.pump()

    def sas_verdict(self, matches: bool) -> None:
        """The operators compared the words: they match, or the call ends with an alert."""
        if self.machine.state is not CallState.ACTIVE:
            raise StationError(
                "no-call", f"the call with {self.line.peer} has no words yet: it is not answered"
            )
        self.sas_confirmed = matches
        self._tell({"event": "sas-verdict", "matches": matches})
        if not matches:
            self.hangup(EndReason.SAS_MISMATCH)

    def receive(self, message: CallAnswer | CallRinging | CallReveal | CallSignal) -> None:
        self.machine.receive(message, time.monotonic())
        self.pump()

    def line_down(self) -> None:
        self.machine.line_down(time.monotonic())
        self.pump()

    def on_packet(self, packet: bytes, address: Address | None) -> None:
        """A media packet for this call, over UDP (``address``) or inside the session (None)."""
        if self.opener is None:
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

    def pump(self) -> None:
        """Send what the machine wants sent; act on what happened (only once the call is logged)."""
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
        channel = self.session.channel
        if self.line.current is not self.session or channel.is_closed:
            return
        try:
            channel.send_nowait(linemsg.encode(message))
            channel.flush()
        except ChannelClosed:
            pass

    def _activate(self) -> None:
        machine = self.machine
        keys = machine.keys
        assert machine.remote_index is not None and keys is not None
        # the sealer and opener hold the only other references to the keys: dropped at the end
        self.sealer = MediaSealer(keys.sending(caller=machine.caller), machine.remote_index)
        self.opener = MediaOpener(keys.receiving(caller=machine.caller), machine.local_index)
        self.answered_wall = time.time()
        self._tell({"event": "answered", "sas": list(keys.sas)})
        log.info("call answered", extra={"peer": self.line.peer, "call": show_call_id(machine.call_id)})
        if self.media is not None and self.media.sas is not None:
            self.sas_verdict(self.media.sas == "confirm")

    def _finish(self, reason: EndReason) -> None:
        # F9: the call's media keys go with the call (the machine has dropped its own)
        if self.opener is not None:
            self._drops = (self.opener.forged, self.opener.replayed)
        self.sealer = self.opener = None
        if reason is EndReason.BAD_KEYS:
            self.line.alert(
                "call-bad-keys",
                f"the call with {self.line.peer} ended: its key exchange did not check (a key that "
                "did not match its commitment, or was unusable); someone may be in the middle: check "
                "the line's safety number before calling again",
            )
        if reason is EndReason.SAS_MISMATCH:
            self.line.alert(
                "sas-mismatch",
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
        station = self.desk.station
        loop = asyncio.get_running_loop()
        try:
            if not await log_start(self):
                self.machine.refuse(time.monotonic())
                self.pump()
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
                if self.machine.state is CallState.ACTIVE and self.sealer is not None:
                    self._tick(now)
                    if now >= next_stats:
                        next_stats = now + STATS_EVERY
                        self._tell({"event": "stats", "call": self.describe()})
                self.pump()
        except Exception as exc:  # a bug must cost this call only
            log.error("call failed", extra={"peer": self.line.peer}, exc_info=exc)
            self.machine.hangup(time.monotonic(), EndReason.FAILED)
            self.pump()
        finally:
            if self.media is not None:
                self.media.close()
            if self._trace is not None:
                self._trace.close()
            self.desk.forget(self)
            self._ended.set()
            await log_end(self, station)

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
        if self.machine.path is MediaPath.UDP:
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
            self.recorder = Recorder(self.desk.station, self.rowid)
        if self.recorder is not None:
            self.recorder.add(self.sender.last_frame, heard)
        answered = self.machine.answered_at
        if media.seconds is not None and answered is not None and now - answered >= media.seconds:
            self.machine.hangup(now)

    def _send_media_in_session(self, packet: bytes) -> None:
        channel = self.session.channel
        if channel.is_closed:
            return
        try:
            channel.send_nowait(linemsg.encode(CallMedia(packet)))
            channel.flush()
            self.counts["tcp_out"] += 1
        except ChannelClosed:
            pass


def _payload_index(payload: bytes) -> int:
    from hotline.voice.payload import unpack_payload

    try:
        return unpack_payload(payload)[0]
    except Exception:
        return -1


class CallDesk:
    """Every call of the station, and its media socket."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.socket: MediaSocket | None = None
        self._by_line: dict[str, LiveCall] = {}
        self._by_index: dict[int, LiveCall] = {}
        self._trace_dir = os.environ.get(TRACE_ENV)

    async def start(self, host: str, port: int) -> None:
        """Bind the media socket on the listener's address (a busy port costs UDP, not calls)."""
        try:
            self.socket = await bind(host, port, self._on_datagram)
        except OSError as exc:
            log.warning(
                "no UDP for calls: media will go inside the sessions",
                extra={"listen": f"{host}:{port}", "error": str(exc)},
            )

    def stop(self) -> None:
        for call in list(self._by_line.values()):
            call.hangup()
        if self.socket is not None:
            self.socket.close()

    def trace_file(self, call_id: bytes) -> Any:
        if not self._trace_dir:
            return None
        path = Path(self._trace_dir) / f"{self.station.identity.name}-{show_call_id(call_id)[:8]}.trace"
        return path.open("w", buffering=1 << 16)

    # -- finding calls

    def current(self, peer: str | None, *, state: CallState | None = None) -> LiveCall:
        """The call on ``peer``'s line, or the only call there is.

        Raises:
            StationError: ``no-call``, or ``bad-request`` when several calls leave it unclear.
        """
        # a call not yet logged is not yet anyone's to answer (nothing of it is opened before: F7)
        calls = [
            c
            for c in self._by_line.values()
            if c.rowid is not None and (state is None or c.machine.state is state)
        ]
        if peer is not None:
            calls = [c for c in calls if c.line.peer == peer]
        if not calls:
            what = "ringing" if state is CallState.RINGING else "in progress"
            where = f" on the line to {peer}" if peer else ""
            raise StationError("no-call", f"no call is {what}{where}")
        if len(calls) > 1:
            names = ", ".join(sorted(c.line.peer for c in calls))
            raise StationError("bad-request", f"calls are up on several lines ({names}): name the peer")
        return calls[0]

    def on_line(self, peer: str) -> LiveCall | None:
        """The call on ``peer``'s line, if any."""
        return self._by_line.get(peer)

    def live(self) -> list[LiveCall]:
        """Every call not yet over."""
        return [call for call in self._by_line.values() if not call.ended]

    def forget(self, call: LiveCall) -> None:
        if self._by_line.get(call.line.peer) is call:
            del self._by_line[call.line.peer]
        if self._by_index.get(call.machine.local_index) is call:
            del self._by_index[call.machine.local_index]

    def _new_index(self) -> int:
        while True:
            index = int.from_bytes(random_bytes(4), "big")
            if index and index not in self._by_index:
                return index

    def _register(self, line: LineRuntime, session: LinkSession, machine: Call) -> LiveCall:
        call = LiveCall(self, line, session, machine)
        self._by_line[line.peer] = call
        self._by_index[machine.local_index] = call
        self.station.spawn(call.run())
        return call

    # -- operators

    def place(self, line: LineRuntime, media: Media) -> LiveCall:
        """Ring the far end of ``line``.

        Raises:
            StationError: the line is not verified or not up, or a call is already on it.
        """
        if not line.row.verified:
            raise StationError(
                "line-unverified", f"the line to {line.peer} is not verified: calls need a verified line"
            )
        session = line.current
        if not line.up or session is None:
            raise StationError("line-down", f"the line to {line.peer} is down: a call needs the line up")
        if line.peer in self._by_line:
            raise StationError("busy", f"a call is already on the line to {line.peer}: one call per line")
        machine = Call.place(
            random_bytes(linemsg.CALL_ID_LEN),
            self._new_index(),
            time.monotonic(),
            binding=session.channel.handshake_hash,
            dh_secret=random_bytes(DH_SECRET_LEN),
            kem_seed=random_bytes(KEM_SEED_LEN),
        )
        call = self._register(line, session, machine)
        call.attach(media)  # the offer goes out once the call is logged
        return call

    # -- the network

    def on_message(self, line: LineRuntime, session: LinkSession, message: LineMessage) -> None:
        """A call message arrived on ``line``'s session."""
        match message:
            case CallOffer():
                self._on_offer(line, session, message)
            case CallAnswer() | CallRinging() | CallReveal() | CallSignal():
                call = self._by_line.get(line.peer)
                if call is not None and call.call_id == message.call_id and call.session is session:
                    call.receive(message)
            case CallMedia(packet):
                index = packet_index(packet)
                found = self._by_index.get(index) if index is not None else None
                if found is not None and found.line is line:
                    found.on_packet(packet, None)

    def _on_offer(self, line: LineRuntime, session: LinkSession, offer: CallOffer) -> None:
        if line.peer in self._by_line:
            # one call per line; two offers crossing each other both get busy and the operators retry
            with contextlib.suppress(ChannelClosed):
                session.channel.send_nowait(linemsg.encode(CallSignal(offer.call_id, Signal.BUSY)))
            self.station.record(line, "call-busy", {"call": show_call_id(offer.call_id)})
            return
        machine = Call.offered(
            offer,
            self._new_index(),
            time.monotonic(),
            binding=session.channel.handshake_hash,
            dh_secret=random_bytes(DH_SECRET_LEN),
            kem=MLKEM768(),
        )
        self._register(line, session, machine)  # it rings once logged: see rung()

    def rung(self, call: LiveCall) -> None:
        """An incoming call is logged and rings: answer it if the line says so."""
        settings = self.station.config.line(call.line.peer)
        if not settings.auto_answer or call.ended:
            return
        try:
            call.answer(self._auto_media(call))
        except StationError as exc:
            log.error("cannot auto-answer", extra={"peer": call.line.peer, "error": exc.code})
            call.hangup(EndReason.FAILED)

    def _auto_media(self, call: LiveCall) -> Media:
        settings = self.station.config.line(call.line.peer)
        source: Source = WavFileSource(Path(settings.answer_play)) if settings.answer_play else Silence()
        sink: Sink = Discard()
        if settings.answer_record:
            # named by our own log row, not by the peer's call id (F7): a peer names nothing here
            name = time.strftime("call-%Y%m%d-%H%M%S", time.gmtime(call.started_wall)) + f"-{call.rowid}.wav"
            try:
                sink = WavFileSink(Path(settings.answer_record) / name, make_folder=True)
            except StationError:
                source.close()
                raise
            call.recording = name
        return Media(source, sink)

    def on_line_down(self, line: LineRuntime, session: LinkSession) -> None:
        """``session`` of ``line`` ended: a call it carried is over."""
        call = self._by_line.get(line.peer)
        if call is not None and call.session is session:
            call.line_down()

    def _on_datagram(self, data: bytes, address: Address) -> None:
        index = packet_index(data)
        if index is None:
            return
        call = self._by_index.get(index)
        if call is not None:
            call.on_packet(data, address)


__all__ = ["CallDesk", "LiveCall", "Media", "show_call_id"]
