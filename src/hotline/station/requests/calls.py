"""The control socket's call requests (docs/control.md, "Calls").

``call.place`` and ``call.answer`` are live: they stream the call's events (ringing, answered with
the SAS words, figures once a second, ended) and end with the call; a client that goes away hangs up,
as putting down the receiver does. The rest are ordinary requests.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from hotline.proto.call import CallState
from hotline.station import outfile
from hotline.station.calls.audio import open_endpoints
from hotline.station.calls.live import LiveCall, Media, show_call_id
from hotline.station.calls.recording import unpack_run
from hotline.station.errors import StationError
from hotline.station.requests.base import (
    Args,
    Emit,
    StationHost,
    absolute_path,
    need_running,
    new_output_file,
)
from hotline.store.db import Store
from hotline.store.rows import CallRow
from hotline.store.schema import IN, OUT
from hotline.voice.codec import FRAME_BYTES, SAMPLE_RATE, Decoder


class PlaceArgs(Args):
    peer: str
    #: A WAV file to send (absolute path: the daemon opens it); else the sound card.
    play: str | None = None
    #: A WAV file to record what is heard into; else the sound card.
    record: str | None = None
    seconds: float | None = None
    #: "confirm" or "mismatch": the SAS verdict to give as soon as the words are known.
    sas: str | None = None


class AnswerArgs(Args):
    peer: str | None = None
    play: str | None = None
    record: str | None = None
    seconds: float | None = None
    sas: str | None = None
    #: Seconds to wait for a call to ring (0: it must ring now).
    wait: float = 0.0


class HangupArgs(Args):
    peer: str | None = None


class SasArgs(Args):
    matches: bool
    peer: str | None = None


class CallsArgs(Args):
    peer: str | None = None
    limit: int = 50


class ExportArgs(Args):
    id: str
    out: str


async def _media(
    station: StationHost, play: str | None, record: str | None, seconds: float | None, sas: str | None
) -> Media:
    for name, value in (("play", play), ("record", record)):
        if value is not None:
            absolute_path(value, name, "opens")
    if seconds is not None and not 0 < seconds <= 86_400:
        raise StationError("bad-request", "`seconds` is 0 to 86400")
    if sas not in (None, "confirm", "mismatch"):
        raise StationError("bad-request", "`sas` is 'confirm' or 'mismatch'")
    # opening a sound card asks the sound server, which may take seconds on a busy machine: in the
    # loop, that would starve every line's heartbeat and the peers would declare the lines dead
    source, sink = await asyncio.to_thread(open_endpoints, play, record, station.config.audio)
    return Media(source, sink, seconds=seconds, hangup_at_end=play is not None and seconds is None, sas=sas)


async def _follow(call: LiveCall, emit: Emit) -> dict[str, object]:
    queue = call.watch()
    try:
        if call.machine.state is CallState.ACTIVE and call.sas is not None:
            await emit({"event": "answered", "peer": call.line.peer, "sas": list(call.sas)})
        while True:
            event = await queue.get()
            await emit(event)
            if event.get("event") == "ended":
                break
        await call.wait_ended()
        return call.describe()
    except asyncio.CancelledError:
        # the operator's client went away: put the receiver down
        if not call.ended:
            call.hangup()
        raise
    finally:
        call.unwatch(queue)


def _row(station: StationHost, row: CallRow) -> dict[str, object]:
    line = station.registry.by_id(row.line_id)
    duration = None
    if row.answered_at is not None and row.ended_at is not None:
        duration = round(row.ended_at - row.answered_at, 1)
    return {
        "id": show_call_id(row.call_id),
        "peer": line.peer if line is not None else "?",
        "direction": "out" if row.direction == OUT else "in",
        "started_at": row.started_at,
        "answered_at": row.answered_at,
        "ended_at": row.ended_at,
        "duration": duration,
        "end_reason": row.end_reason if row.ended_at is not None else "interrupted",
        "sas_confirmed": row.sas_confirmed,
        "path": row.path,
        "stats": row.stats,
    }


async def place(station: StationHost, args: PlaceArgs, emit: Emit) -> dict[str, object]:
    """``call.place``: ring the peer and follow the call until it ends."""
    need_running(station, "calls")
    line = station.line(args.peer)
    media = await _media(station, args.play, args.record, args.seconds, args.sas)
    try:
        call = station.calls.place(line, media)
    except StationError:
        media.close()
        raise
    await emit({"event": "calling", "peer": line.peer, "id": show_call_id(call.call_id)})
    return await _follow(call, emit)


async def answer(station: StationHost, args: AnswerArgs, emit: Emit) -> dict[str, object]:
    """``call.answer``: answer a ringing call (waiting ``wait`` seconds for one) and follow it."""
    need_running(station, "calls")
    if args.peer is not None:
        station.line(args.peer)
    if not 0 <= args.wait <= 86_400:
        raise StationError("bad-request", "`wait` is 0 to 86400 seconds")
    desk = station.calls
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.wait
    while True:
        try:
            call = desk.current(args.peer, state=CallState.RINGING)
            break
        except StationError:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.05)
    media = await _media(station, args.play, args.record, args.seconds, args.sas)
    if not call.machine.can_answer:
        media.close()
        raise StationError("no-call", f"the call from {call.line.peer} stopped ringing")
    call.answer(media)
    return await _follow(call, emit)


async def hangup(station: StationHost, args: HangupArgs, emit: Emit) -> dict[str, object]:
    """``call.hangup``: end the call (refusing a ringing one declines it)."""
    need_running(station, "calls")
    call = station.calls.current(args.peer)
    call.hangup()
    await call.wait_ended()
    return call.describe()


async def sas(station: StationHost, args: SasArgs, emit: Emit) -> dict[str, object]:
    """``call.sas``: the operators compared the SAS words: they match or not."""
    need_running(station, "calls")
    call = station.calls.current(args.peer, state=CallState.ACTIVE)
    call.sas_verdict(args.matches)
    return call.describe()


async def calls(station: StationHost, args: CallsArgs, emit: Emit) -> dict[str, object]:
    """``calls``: the call log and the live calls."""
    line_id = station.line(args.peer).row.id if args.peer is not None else None
    if not 1 <= args.limit <= 10_000:
        raise StationError("bad-request", "`limit` is 1 to 10000")
    rows = await station.worker.call(lambda store: store.calls.recent(line_id=line_id, limit=args.limit))
    live = [call.describe() for call in station.calls.live()]
    return {"calls": [_row(station, row) for row in rows], "live": live}


async def export(station: StationHost, args: ExportArgs, emit: Emit) -> dict[str, object]:
    """``call.export``: a recorded call as a stereo WAV in a new file."""
    try:
        call_id = bytes.fromhex(args.id)
    except ValueError:
        raise StationError("no-such-call", f"{args.id!r} is not a call id (32 hex digits)") from None
    out = new_output_file(args.out)

    def read(store: Store) -> tuple[CallRow | None, list[bytes], list[bytes]]:
        row = store.calls.by_id(call_id)
        if row is None:
            return None, [], []
        return row, list(store.calls.audio(row.rowid, OUT)), list(store.calls.audio(row.rowid, IN))

    row, ours, theirs = await station.worker.call(read)
    if row is None:
        raise StationError("no-such-call", f"no call {args.id} in the log (see `hotline calls`)")
    if not ours:
        raise StationError(
            "no-recording", f"call {args.id} was not recorded (set `record_calls` in the line's config)"
        )
    frames = await asyncio.to_thread(_write_stereo, out, ours, theirs)
    return {"id": args.id, "out": str(out), "seconds": round(frames * 0.02, 2)}


def _write_stereo(out: Path, ours: list[bytes], theirs: list[bytes]) -> int:
    """Decode both recorded directions into one stereo WAV: left is this station, right the far end."""
    import numpy as np

    tracks = []
    for runs in (ours, theirs):
        decoder = Decoder()
        pcm = bytearray()
        for run in runs:
            for frame in unpack_run(run):
                pcm += decoder.decode(frame) if frame else decoder.conceal()
        tracks.append(np.frombuffer(bytes(pcm), dtype="<i2"))
    length = max(len(t) for t in tracks)
    stereo = np.zeros((length, 2), dtype="<i2")
    for channel, track in enumerate(tracks):
        stereo[: len(track), channel] = track
    with outfile.create(out) as raw, wave.open(raw, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(stereo.tobytes())
    return length * 2 // FRAME_BYTES


__all__ = [
    "AnswerArgs",
    "CallsArgs",
    "ExportArgs",
    "HangupArgs",
    "PlaceArgs",
    "SasArgs",
    "answer",
    "calls",
    "export",
    "hangup",
    "place",
    "sas",
]
