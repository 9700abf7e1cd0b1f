"""Pcap files built byte by byte, as tcpdump writes them, for the traffic benchmark's tests."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from bench.traffic_capture import TCP, UDP

#: A packet to write: (seconds, protocol, source port, destination port, payload bytes).
Spec = tuple[float, int, int, int, int]


def ipv4(protocol: int, src: int, dst: int, payload: int, tcp_options: int = 12) -> bytes:
    """An IPv4 packet's headers (no payload bytes: a capture keeps only the first ones)."""
    if protocol == TCP:
        transport = struct.pack("!HHIIBBHHH", src, dst, 1, 1, (5 + tcp_options // 4) << 4, 0x18, 512, 0, 0)
        transport += bytes(tcp_options)
    else:
        transport = struct.pack("!HHHH", src, dst, 8 + payload, 0)
    total = 20 + len(transport) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, protocol, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
    )
    return header + transport


def ipv6_udp(src: int, dst: int, payload: int) -> bytes:
    header = struct.pack(
        "!IHBB16s16s", 6 << 28, 8 + payload, UDP, 64, bytes(15) + b"\x01", bytes(15) + b"\x01"
    )
    return header + struct.pack("!HHHH", src, dst, 8 + payload, 0)


def ethernet(packet: bytes, ethertype: int = 0x0800) -> bytes:
    return bytes(12) + struct.pack("!H", ethertype) + packet


def pcap(
    frames: Iterable[tuple[float, bytes]],
    *,
    link: int = 1,
    order: str = "<",
    nanoseconds: bool = False,
) -> bytes:
    """A classic pcap file of ``(seconds, frame)`` records."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    units = 1_000_000_000 if nanoseconds else 1_000_000
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    for at, frame in frames:
        seconds = int(at)
        fraction = round((at - seconds) * units)
        out += struct.pack(order + "IIII", seconds, fraction, len(frame), len(frame)) + frame
    return out


def trace(specs: Iterable[Spec]) -> bytes:
    """A pcap file on Ethernet of TCP and UDP packets over IPv4."""
    return pcap(
        (at, ethernet(ipv4(protocol, src, dst, payload))) for at, protocol, src, dst, payload in specs
    )


__all__ = ["Spec", "ethernet", "ipv4", "ipv6_udp", "pcap", "trace"]
