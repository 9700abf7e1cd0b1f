"""How a line dials its peer: the endpoints in order, and exponential backoff with jitter.

The line's supervisor asks :class:`Dialer` when to try next and to dial; the line tells it how
each try and each session ended. Event loop only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from hotline.net.tcp import ChannelClosed, SecureChannel, connect_first
from hotline.proto.cards import parse_endpoint
from hotline.proto.session import SessionConfig
from hotline.station.config import StationConfig

log = logging.getLogger("hotline.line")

#: A session that lasted this long counts as healthy: the redial backoff starts over.
STABLE_AFTER = 10.0


class Dialer:
    """One line's dialling state: failures in a row, when to try next, the endpoint that went silent."""

    # one per line: slots keep a hub's memory per line down
    __slots__ = ("_failures", "_retry_at", "_settings", "_silent_endpoint")

    def __init__(self, settings: Callable[[], StationConfig]) -> None:
        #: The settings in force (a reload replaces them): the redial bounds are read at each failure.
        self._settings = settings
        self._failures = 0
        self._retry_at = 0.0
        #: The endpoint of the last session that died of silence: dialled last next time.
        self._silent_endpoint: str | None = None

    def wait(self) -> float:
        """Seconds until the next try may start (0 or less: now)."""
        return self._retry_at - time.monotonic()

    def backoff(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: doubling up to the configured most, jittered."""
        config = self._settings()
        delay = min(config.redial_max, config.redial_min * 2 ** min(failures, 16))
        return float(delay * random.uniform(0.5, 1.0))

    def failed(self) -> None:
        """A dial round or a short-lived session failed: back off before the next try."""
        self._failures += 1
        self._retry_at = time.monotonic() + self.backoff(self._failures)

    def session_ended(self, started: float, endpoint: str, went_silent: bool) -> None:
        """A session that started at ``started`` (monotonic) on ``endpoint`` ended."""
        # a path that went silent is tried last on the next dial; a peer that closed or
        # restarted says nothing about its path
        if went_silent:
            self._silent_endpoint = endpoint
        if time.monotonic() - started < STABLE_AFTER:
            self.failed()  # a session that dies young (refused, store full) must not spin
        else:
            self._failures = 0

    async def dial(
        self,
        endpoints: list[str],
        *,
        peer: str,
        peer_static: bytes,
        line_key: bytes,
        session_config: SessionConfig,
    ) -> tuple[str, SecureChannel] | None:
        """Dial ``endpoints`` in order (the silent one last); the endpoint that answered and its
        channel, or None."""
        endpoints = list(endpoints)
        if self._silent_endpoint in endpoints and len(endpoints) > 1:
            endpoints.remove(self._silent_endpoint)
            endpoints.append(self._silent_endpoint)
        try:
            index, channel = await connect_first(
                [parse_endpoint(e) for e in endpoints],
                config=session_config,
                peer_static=peer_static,
                line_key=line_key,
            )
        except (OSError, ChannelClosed, TimeoutError) as exc:
            log.debug("dial failed", extra={"peer": peer, "endpoints": endpoints, "error": str(exc)})
            return None
        return endpoints[index], channel


__all__ = ["STABLE_AFTER", "Dialer"]
