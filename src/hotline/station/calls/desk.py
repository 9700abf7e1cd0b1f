"""The station's call desk: every call by line and by media index, and the media socket.

The :class:`CallDesk` owns the station's media socket (UDP, on the same port number as the TCP
listener) and knows every call: by line, one at a time, and by the receiver index that each media
packet carries. Each call is a :class:`hotline.station.calls.live.LiveCall`, run as a child of the
station's task group. On a line whose session runs a carrier, a call never uses the media socket:
it rides in the carrier's VOICE lane, and a carrier too slow for speech refuses the call at once
(:func:`hotline.proto.call.carrier_voice_problem`). The desk knows the station and its lines only
through the narrow protocols of :mod:`hotline.station.calls.needs`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Generic, TextIO, TypeVar

from hotline.crypto.random import random_bytes
from hotline.net.tcp import ChannelClosed
from hotline.net.udp import Address, MediaSocket, bind
from hotline.proto import linemsg
from hotline.proto.call import Call, CallState, EndReason, carrier_voice_problem
from hotline.proto.call import Path as MediaPath
from hotline.proto.callkeys import DH_SECRET_LEN, KEM_SEED_LEN
from hotline.proto.carrier import Lane, LaneFull
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
from hotline.proto.media import packet_index
from hotline.proto.suites import suite_of_protocol
from hotline.station.calls.audio import Discard, Silence, Sink, Source, WavFileSink, WavFileSource
from hotline.station.calls.live import LiveCall, Media, show_call_id
from hotline.station.calls.needs import CallChannel, CallLine, CallSession, CallStation
from hotline.station.errors import StationError

log = logging.getLogger("hotline.calls")

#: Set to a directory to write each call's per-frame timings there (for ``make bench``).
TRACE_ENV = "HOTLINE_VOICE_TRACE"

#: The station's own type of line, handed back to it when the desk records an event.
LineT = TypeVar("LineT", bound=CallLine)


class CallDesk(Generic[LineT]):
    """Every call of the station, and its media socket. Lives on the event loop."""

    def __init__(self, station: CallStation[LineT]) -> None:
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

    def trace_file(self, call_id: bytes) -> TextIO | None:
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

    def _register(self, line: CallLine, session: CallSession, machine: Call) -> LiveCall:
        call = LiveCall(self, line, session, machine)
        self._by_line[line.peer] = call
        self._by_index[machine.local_index] = call
        self.station.spawn(call.run())
        return call

    # -- operators

    def place(self, line: CallLine, media: Media) -> LiveCall:
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
        too_slow = _carrier_too_slow(line.peer, session.channel)
        if too_slow is not None:
            raise StationError("bad-config", too_slow)
        machine = Call.place(
            random_bytes(linemsg.CALL_ID_LEN),
            self._new_index(),
            time.monotonic(),
            binding=session.channel.handshake_hash,
            dh_secret=random_bytes(DH_SECRET_LEN),
            kem_seed=random_bytes(KEM_SEED_LEN),
            path=_media_path(session.channel),
            suite=suite_of_protocol(session.channel.protocol_name),
        )
        call = self._register(line, session, machine)
        call.attach(media)  # the offer goes out once the call is logged
        return call

    # -- the network

    def on_message(self, line: LineT, session: CallSession, message: LineMessage) -> None:
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

    def _on_offer(self, line: LineT, session: CallSession, offer: CallOffer) -> None:
        if line.peer in self._by_line:
            # one call per line; two offers crossing each other both get busy and the operators retry
            _refuse(session.channel, offer, Signal.BUSY)
            self.station.record(line, "call-busy", {"call": show_call_id(offer.call_id)})
            return
        too_slow = _carrier_too_slow(line.peer, session.channel)
        if too_slow is not None:
            # the caller's end refuses such a call itself: this one comes from a carrier set otherwise
            _refuse(session.channel, offer, Signal.FAILED)
            log.warning("call refused", extra={"peer": line.peer, "reason": too_slow})
            self.station.record(
                line, "call-refused", {"call": show_call_id(offer.call_id), "reason": too_slow}
            )
            return
        suite = suite_of_protocol(session.channel.protocol_name)  # the line's profile
        machine = Call.offered(
            offer,
            self._new_index(),
            time.monotonic(),
            binding=session.channel.handshake_hash,
            dh_secret=random_bytes(DH_SECRET_LEN),
            kem=suite.kem(),
            path=_media_path(session.channel),
            suite=suite,
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

    def on_line_down(self, line: CallLine, session: CallSession) -> None:
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


def _media_path(channel: CallChannel) -> MediaPath:
    """Where a new call's media goes: inside the session from the first frame on a carrier line."""
    return MediaPath.UDP if channel.carrier is None else MediaPath.SESSION


def _carrier_too_slow(peer: str, channel: CallChannel) -> str | None:
    """Why the carrier of ``peer``'s line cannot carry a call, naming the setting to change; None
    when it can (or the line runs no carrier)."""
    setting = channel.carrier
    problem = None if setting is None else carrier_voice_problem(setting)
    if problem is None:
        return None
    return (
        f"the line to {peer} runs a carrier too slow for a call: {problem}; in station.toml, raise "
        f"[lines.{peer}] carrier_cell or lower carrier_interval_ms on both stations (the default, 1024 "
        "bytes every 20 ms, carries a call)"
    )


def _refuse(channel: CallChannel, offer: CallOffer, signal: Signal) -> None:
    """Tell the caller no, in the VOICE lane (a full lane costs the signal: the caller's offer times out)."""
    with contextlib.suppress(ChannelClosed, LaneFull):
        channel.send_nowait(linemsg.encode(CallSignal(offer.call_id, signal)), Lane.VOICE)


__all__ = ["TRACE_ENV", "CallDesk"]
