"""A small asyncio UDP adapter: one socket per station for every call's media.

The socket only moves datagrams; what they mean is decided above it. Every datagram goes to one
``on_datagram(data, address)`` callback, from the event loop; sending never blocks and never raises
(a voice packet that cannot go now is worth nothing later, so it is dropped and counted).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

#: Largest datagram read; media packets are far smaller, anything longer is junk anyway.
MAX_DATAGRAM = 2048

Address = tuple[str, int]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > MAX_DATAGRAM:
            return
        self._on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable and the like: the media path's timers notice the silence
        pass


class MediaSocket:
    """A bound UDP socket: :meth:`send` datagrams, receive them through the callback."""

    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self._transport = transport
        #: Datagrams dropped because the socket could not take them.
        self.dropped = 0

    @property
    def port(self) -> int:
        """The local port."""
        port: int = self._transport.get_extra_info("sockname")[1]
        return port

    def send(self, data: bytes, address: Address) -> None:
        """Send one datagram now, or drop it."""
        if self._transport.is_closing():
            self.dropped += 1
            return
        try:
            self._transport.sendto(data, address)
        except OSError:
            self.dropped += 1

    def close(self) -> None:
        """Close the socket."""
        self._transport.close()


async def bind(host: str, port: int, on_datagram: Callable[[bytes, Address], None]) -> MediaSocket:
    """Bind a UDP socket on ``host:port`` (port 0: any free port).

    Raises:
        OSError: the address cannot be bound.
    """
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(on_datagram), local_addr=(host, port), family=family
    )
    return MediaSocket(transport)


__all__ = ["MAX_DATAGRAM", "Address", "MediaSocket", "bind"]
