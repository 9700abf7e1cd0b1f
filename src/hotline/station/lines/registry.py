"""Every line of the station, by peer name, by static key and by store id; the handshake's directory.

The registry owns the line objects and their supervisors: once :meth:`LineRegistry.serve` has been
given the daemon's task group, every line (and every line added later) is supervised in it, and a
dropped line's supervisor is cancelled. Before that (a request run offline) lines exist but nothing
dials.

:class:`Directory` is what the handshake asks of us (docs/protocol.md §3): a line key only for a
verified, keyed line; every refusal is logged, at most once a minute per station.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from hotline.net.tcp import SecureChannel
from hotline.proto.suites import Suite
from hotline.station.alertkinds import AlertKind
from hotline.station.errors import StationError
from hotline.station.lines.line import Line
from hotline.station.ports import LineContext
from hotline.store.rows import LineRow

log = logging.getLogger("hotline.station")

#: How often one unverified or unknown station's attempts are logged.
REFUSAL_LOG_INTERVAL = 60.0


class LineRegistry:
    """The station's lines. Event loop only; ``lines`` maps a peer name to its line."""

    def __init__(
        self, context: LineContext[Line], spawn: Callable[[Coroutine[Any, Any, None]], None]
    ) -> None:
        self._context = context
        self._spawn = spawn
        self.lines: dict[str, Line] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None

    # -- adding and dropping

    def add(self, row: LineRow, inbound: tuple[int, bytes], outbound: tuple[int, bytes]) -> Line:
        """Hold the line of ``row`` whose transcripts end at ``inbound`` and ``outbound``."""
        line = Line(self._context, row, inbound, outbound)
        self.lines[row.peer] = line
        if self._tg is not None:
            self._tasks[row.peer] = self._tg.create_task(_supervise(line))
        return line

    def add_new(self, row: LineRow) -> Line:
        """Hold a line just created (both transcripts empty)."""
        return self.add(row, (0, row.chain_in0), (0, row.chain_out0))

    def drop(self, peer: str) -> None:
        """Stop supervising a removed line and close its session."""
        line = self.lines.pop(peer, None)
        task = self._tasks.pop(peer, None)
        if task is not None:
            task.cancel()
        if line is not None and line.current is not None and self._tg is not None:
            self._tg.create_task(line.current.channel.close())

    def serve(self, tg: asyncio.TaskGroup) -> None:
        """Supervise every line in ``tg`` from now on (the daemon)."""
        self._tg = tg
        for peer, line in self.lines.items():
            self._tasks[peer] = tg.create_task(_supervise(line))

    # -- finding lines

    def line(self, peer: str) -> Line:
        """The line to ``peer``.

        Raises:
            StationError: ``no-such-line``.
        """
        line = self.lines.get(peer)
        if line is None:
            raise StationError("no-such-line", f"no line to {peer!r} (see `hotline line list`)")
        return line

    def by_static(self, peer_static: bytes) -> Line | None:
        """The line whose peer has the static key ``peer_static``."""
        for line in self.lines.values():
            if line.row.static_public == peer_static:
                return line
        return None

    def by_id(self, line_id: int) -> Line | None:
        """The line stored under ``line_id``."""
        for line in self.lines.values():
            if line.row.id == line_id:
                return line
        return None

    def names(self) -> dict[int, str]:
        """Each line's name by its store id."""
        return {line.row.id: name for name, line in self.lines.items()}

    # -- handshakes

    def line_key(self, peer_static: bytes) -> bytes | None:
        """The line key for a handshake with ``peer_static``, if that line may carry traffic."""
        line = self.by_static(peer_static)
        if line is None or not line.ready:
            return None
        return line.key

    def suite_for(self, peer_static: bytes) -> Suite | None:
        """The suite of the line to ``peer_static`` (its handshake's protocol name), if we have one."""
        line = self.by_static(peer_static)
        return None if line is None else line.suite

    def profile_mismatch(self, peer_static: bytes, theirs: str) -> None:
        """The station ``peer_static`` runs our line with the profile ``theirs``: alert on that line."""
        line = self.by_static(peer_static)
        if line is not None:
            line.profile_mismatch(theirs)

    def refused(self, peer_static: bytes) -> None:
        """A station we will not talk to completed the first half of a handshake."""
        line = self.by_static(peer_static)
        if line is None:
            log.warning("refused an unknown station", extra={"static_key": peer_static.hex()[:16]})
        else:
            why = "not verified" if not line.row.verified else "without a line key"
            line.alert(AlertKind.REFUSED, f"refused {line.peer}: the line is {why}")

    def replayed(self, peer_static: bytes) -> None:
        """A recording of a peer's earlier handshake was played back to us (and dropped unanswered)."""
        line = self.by_static(peer_static)
        if line is None:
            return
        line.replays += 1
        now = time.monotonic()
        if now - line.replay_logged >= REFUSAL_LOG_INTERVAL:
            line.replay_logged = now
            log.warning(
                "dropped a replayed handshake: someone on the path played back a recording of an "
                "earlier one (nothing was answered; the count is in `hotline status --json`)",
                extra={"peer": line.peer, "replays": line.replays},
            )

    def accepted(self, channel: SecureChannel) -> None:
        """Hand a session a peer started to its line (or close it: no line may carry it)."""
        line = self.by_static(channel.peer_static)
        if line is None or not line.ready:
            self._spawn(channel.close())
            return
        line.attach(channel, initiated=False, endpoint=channel.peer_address)


class Directory:
    """The handshake's view of our lines: a key only for verified, keyed lines; refusals are logged."""

    def __init__(self, registry: LineRegistry) -> None:
        self._registry = registry
        self._logged: dict[bytes, float] = {}

    def line_key(self, peer_static: bytes) -> bytes | None:
        key = self._registry.line_key(peer_static)
        if key is None:
            now = time.monotonic()
            if now - self._logged.get(peer_static, -REFUSAL_LOG_INTERVAL) >= REFUSAL_LOG_INTERVAL:
                self._logged[peer_static] = now
                self._registry.refused(peer_static)
        return key

    def replayed(self, peer_static: bytes) -> None:
        self._registry.replayed(peer_static)

    def suite_for(self, peer_static: bytes) -> Suite | None:
        """The suite of our line to ``peer_static`` (None: no such line)."""
        return self._registry.suite_for(peer_static)

    def profile_mismatch(self, peer_static: bytes, theirs: str) -> None:
        """A handshake showed that ``peer_static`` runs our line with the profile ``theirs``."""
        self._registry.profile_mismatch(peer_static, theirs)


async def _supervise(line: Line) -> None:
    # a line's supervisor that fails (a bug) is logged and restarted; the other lines go on
    while True:
        try:
            await line.run()
        except Exception as exc:
            log.error("line supervisor failed", extra={"peer": line.peer}, exc_info=exc)
            await asyncio.sleep(1.0)


__all__ = ["REFUSAL_LOG_INTERVAL", "Directory", "LineRegistry"]
