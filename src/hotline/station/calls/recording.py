"""A call in the station's log: its row, written before anything of the call is sent or opened, and
its audio kept in the store, sealed at rest (``record_calls`` in a line's config).

What we sent is kept as sent; what we heard is re-encoded after the jitter buffer, so an export plays
what the operator heard. Runs of :data:`AUDIO_RUN` frames go to the store from the worker thread.
"""

from __future__ import annotations

import struct
import time
from typing import Protocol

from hotline.proto.call import Call, EndReason
from hotline.station.alertkinds import AlertKind
from hotline.station.calls.needs import CallLine
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.schema import IN, OUT
from hotline.voice.codec import Encoder

#: Frames per sealed run of recorded audio.
AUDIO_RUN = 50


class Recorder:
    """Keeps a call's audio in the store, sealed: what we sent as sent, what we heard re-encoded."""

    def __init__(self, worker: StoreWorker, rowid: int) -> None:
        self._worker = worker
        self._rowid = rowid
        self._encoder = Encoder()
        self._runs: dict[int, list[bytes]] = {OUT: [], IN: []}
        self._seq = 0

    def add(self, sent: bytes, heard: bytes) -> None:
        self._runs[OUT].append(sent)
        self._runs[IN].append(self._encoder.encode(heard))
        if len(self._runs[OUT]) >= AUDIO_RUN:
            self.flush()

    def flush(self) -> None:
        if not self._runs[OUT]:
            return
        runs = {direction: _pack_run(frames) for direction, frames in self._runs.items()}
        self._runs = {OUT: [], IN: []}
        seq, rowid = self._seq, self._rowid
        self._seq += 1

        # the job gets the runs, their number and the row: values, nothing of the live call
        def write(store: Store) -> None:
            for direction, run in runs.items():
                store.calls.add_audio(rowid, direction, seq, run)

        self._worker.submit(write)


def _pack_run(frames: list[bytes]) -> bytes:
    return b"".join(struct.pack(">H", len(f)) + f for f in frames)


def unpack_run(run: bytes) -> list[bytes]:
    """The Opus frames of one recorded run."""
    frames: list[bytes] = []
    at = 0
    while at + 2 <= len(run):
        (length,) = struct.unpack_from(">H", run, at)
        frames.append(run[at + 2 : at + 2 + length])
        at += 2 + length
    return frames


class LoggedCall(Protocol):
    """A live call, as its row in the log sees it."""

    #: The call's row, once written.
    rowid: int | None
    #: When it started, on the wall clock.
    started_wall: float

    @property
    def call_id(self) -> bytes: ...

    @property
    def machine(self) -> Call: ...

    @property
    def line(self) -> CallLine: ...

    @property
    def worker(self) -> StoreWorker: ...

    @property
    def recorder(self) -> Recorder | None: ...

    @property
    def answered_wall(self) -> float | None: ...

    @property
    def sas_confirmed(self) -> bool | None: ...

    def describe(self, now: float | None = None) -> dict[str, object]:
        """The call as status shows it."""
        ...


async def log_start(call: LoggedCall) -> bool:
    """Log the call before anything of it is sent or opened; False refuses it (F7): an id already
    in the log (a peer reusing one, to take over an earlier call's recording) or a store that
    cannot log it."""
    line_id, call_id, direction = call.line.row.id, call.call_id, OUT if call.machine.caller else IN
    started = call.started_wall

    def add(store: Store) -> int | None:
        if store.calls.by_id(call_id) is not None:
            return None
        return store.calls.add(line_id, call_id, direction, started)

    try:
        rowid = await call.worker.call(add)
    except StoreError as exc:
        call.line.alert(
            AlertKind.STORE_ERROR,
            f"the call with {call.line.peer} ended: it could not be logged: {exc.reason}",
        )
        return False
    if rowid is None:
        call.line.alert(
            AlertKind.CALL_REFUSED,
            f"call {call_id.hex()} on the line to {call.line.peer} reuses an id already in the call log: "
            "refused (a station never reuses a call id; if it happens again, ask its operator)",
        )
        return False
    call.rowid = rowid
    return True


async def log_end(call: LoggedCall) -> None:
    """Write how the call went into its row (and the last of its recorded audio)."""
    if call.recorder is not None:
        call.recorder.flush()
    rowid = call.rowid
    if rowid is None:
        return
    described = call.describe()
    machine = call.machine
    fields: dict[str, object] = {
        "answered_at": call.answered_wall,
        "ended_at": time.time(),
        "end_reason": machine.end_reason.value if machine.end_reason else EndReason.FAILED.value,
        "sas_confirmed": None if call.sas_confirmed is None else int(call.sas_confirmed),
        "path": described["path"],
        "stats": {
            k: described[k]
            for k in ("duration", "bitrate", "loss", "jitter_ms", "packets", "dropped", "recording")
            if k in described
        },
    }
    try:
        await call.worker.call(lambda store: store.calls.update(rowid, **fields))
    except StoreError as exc:
        call.line.alert(
            AlertKind.STORE_ERROR, f"could not log the end of the call with {call.line.peer}: {exc.reason}"
        )
    except RuntimeError:
        pass  # the worker is stopping with the daemon: the row stays as "interrupted"


__all__ = ["AUDIO_RUN", "LoggedCall", "Recorder", "log_end", "log_start", "unpack_run"]
