"""What an observer on the path between two stations records: every packet's time, direction and size.

:class:`Capture` runs tcpdump on the loopback interface with a filter on the two stations' ports, so
it sees every TCP segment (bare ACKs and retransmissions included) and every UDP datagram between
them, and writes a classic pcap file. :func:`parse_pcap` reads that file back into :class:`Packet`
records; :func:`observed` turns them into what the adversary keeps: ``(time, direction, size)``, the
size being the IP packet's length (what a tap on a cable counts, less the link's own framing).

Only the headers are kept (a short snap length): the adversary cannot read the payload anyway.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: Bytes of each packet tcpdump keeps: room for a link header, an IPv6 header and a TCP header
#: with every option (14 + 40 + 60).
SNAPLEN = 128

#: pcap magic numbers (as read little-endian) -> (byte order, timestamp units per second).
_MAGIC = {
    0xA1B2C3D4: ("<", 1_000_000),
    0xA1B23C4D: ("<", 1_000_000_000),
    0xD4C3B2A1: (">", 1_000_000),
    0x4D3CB2A1: (">", 1_000_000_000),
}
#: Link types we read -> bytes of link header before the IP packet (tcpdump on ``lo`` writes Ethernet).
_LINKS = {1: 14, 101: 0, 113: 16, 276: 20}
_GLOBAL_HEADER = 24
_RECORD_HEADER = 16
TCP = 6
UDP = 17


class TrafficError(Exception):
    """A capture could not be taken or read; the message says where and what to do."""


@dataclass(frozen=True)
class Packet:
    """One IP packet as the capture holds it."""

    #: Seconds since the epoch (the capture's clock, which is the system's wall clock).
    time: float
    #: :data:`TCP` or :data:`UDP`.
    protocol: int
    src_port: int
    dst_port: int
    #: The IP packet's length in bytes (headers included), from its own header.
    size: int
    #: Bytes of TCP or UDP payload (0 for a bare ACK).
    payload: int


def parse_pcap(data: bytes) -> list[Packet]:
    """Every TCP and UDP packet over IPv4 or IPv6 in a classic pcap file; other frames are skipped.

    Raises:
        TrafficError: the data is not a pcap file of a link type we read, or a record or header in it
            is cut short (naming the record and its byte offset).
    """
    if len(data) < _GLOBAL_HEADER:
        raise TrafficError(
            f"the capture is {len(data)} bytes, too short for a pcap header ({_GLOBAL_HEADER} bytes): "
            "did tcpdump start and stop cleanly?"
        )
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic not in _MAGIC:
        raise TrafficError(
            f"the capture does not start with a pcap magic number (it has {magic:#010x}): "
            "write it with tcpdump -w (classic pcap, not pcapng)"
        )
    order, units = _MAGIC[magic]
    link = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    if link not in _LINKS:
        raise TrafficError(
            f"the capture's link type is {link}; only Ethernet (1), raw IP (101) and Linux cooked "
            "captures (113, 276) are read: capture on the loopback interface (-i lo)"
        )
    skip = _LINKS[link]
    packets: list[Packet] = []
    offset, index = _GLOBAL_HEADER, 0
    while offset < len(data):
        index += 1
        if offset + _RECORD_HEADER > len(data):
            raise TrafficError(
                f"record {index} at byte {offset}: its header is cut short "
                f"({len(data) - offset} of {_RECORD_HEADER} bytes): the capture was not stopped cleanly"
            )
        seconds, fraction, kept, _ = struct.unpack_from(order + "IIII", data, offset)
        body = offset + _RECORD_HEADER
        if body + kept > len(data):
            raise TrafficError(
                f"record {index} at byte {offset}: it says {kept} bytes follow but only "
                f"{len(data) - body} do: the capture was not stopped cleanly"
            )
        frame = data[body + skip : body + kept]
        ethertype = data[body + 12 : body + 14] if link == 1 else None
        try:
            packet = _ip_packet(frame, seconds + fraction / units, ethertype)
        except _CutShort as short:
            raise TrafficError(
                f"record {index} at byte {offset}: {short} ({kept} bytes kept): "
                f"capture with a snap length of at least {SNAPLEN} bytes (-s {SNAPLEN})"
            ) from None
        if packet is not None:
            packets.append(packet)
        offset = body + kept
    return packets


class _CutShort(Exception):
    """A frame that says it is an IP packet is shorter than its headers."""


def _ip_packet(frame: bytes, at: float, ethertype: bytes | None) -> Packet | None:
    """The TCP or UDP packet in ``frame`` (an IP packet), or None when it carries something else.

    Raises:
        _CutShort: the frame ends inside the IP, TCP or UDP header.
    """
    if ethertype is not None and ethertype not in (b"\x08\x00", b"\x86\xdd"):
        return None  # an Ethernet frame carrying something other than IP (ARP, ...)
    if not frame:
        raise _CutShort("an empty frame")
    version = frame[0] >> 4
    if version == 4:
        if len(frame) < 20:
            raise _CutShort("an IPv4 header cut short")
        header = (frame[0] & 0x0F) * 4
        size = struct.unpack_from("!H", frame, 2)[0]
        protocol = frame[9]
    elif version == 6:
        if len(frame) < 40:
            raise _CutShort("an IPv6 header cut short")
        header, protocol = 40, frame[6]
        size = 40 + struct.unpack_from("!H", frame, 4)[0]
    else:
        return None
    if protocol not in (TCP, UDP):
        return None
    least = 20 if protocol == TCP else 8
    if len(frame) < header + least:
        raise _CutShort(f"a {'TCP' if protocol == TCP else 'UDP'} header cut short")
    src, dst = struct.unpack_from("!HH", frame, header)
    transport = (frame[header + 12] >> 4) * 4 if protocol == TCP else 8
    return Packet(at, protocol, src, dst, size, max(0, size - header - transport))


def observed(packets: list[Packet], port_a: int, port_b: int) -> list[tuple[float, int, int]]:
    """``(time, direction, size)`` of each packet between the stations listening on ``port_a`` and
    ``port_b``: direction +1 from a to b, -1 from b to a. A station sends from its listening port
    (UDP, and TCP it accepted) or from a port of its own to the other's listening port (TCP it dialled).
    """
    out = []
    for packet in packets:
        if packet.src_port == port_a or packet.dst_port == port_b:
            direction = 1
        elif packet.src_port == port_b or packet.dst_port == port_a:
            direction = -1
        else:
            continue
        out.append((packet.time, direction, packet.size))
    return out


def bpf_filter(*ports: int) -> str:
    """The capture filter: TCP and UDP to or from any of ``ports``."""
    return "(tcp or udp) and (" + " or ".join(f"port {port}" for port in ports) + ")"


class Capture:
    """tcpdump recording the traffic of the stations on ``ports`` into ``path`` (a pcap file)."""

    def __init__(self, path: Path, ports: tuple[int, ...], interface: str = "lo") -> None:
        self.path = path
        self.ports = ports
        self.interface = interface
        self._process: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        #: Packets the kernel dropped before tcpdump read them (from tcpdump's closing lines).
        self.dropped: int | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start tcpdump and return once it listens.

        Raises:
            TrafficError: tcpdump is missing, lacks the right to capture or did not start.
        """
        tcpdump = shutil.which("tcpdump") or next(
            (p for p in ("/usr/bin/tcpdump", "/usr/sbin/tcpdump") if os.access(p, os.X_OK)), None
        )
        if tcpdump is None:
            raise TrafficError(
                "tcpdump is not installed: install the Debian package tcpdump "
                "(scripts/debian-packages.txt lists it) and run the benchmark as root"
            )
        # immediate mode: without it packets wait in the kernel's ring for up to a second, and the
        # last of them are lost when tcpdump is stopped
        argv = [tcpdump, "-i", self.interface, "-n", "--immediate-mode", "-s", str(SNAPLEN), "-U"]
        argv += ["-w", str(self.path), bpf_filter(*self.ports)]
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        listening = threading.Event()
        threading.Thread(target=self._read_stderr, args=(listening,), daemon=True).start()
        if not listening.wait(timeout) or self._process.poll() is not None:
            self.stop()
            said = " ".join(self._stderr)[-500:] or "nothing"
            raise TrafficError(
                f"tcpdump did not start capturing on {self.interface} within {timeout:g} s "
                f"(it said: {said}); it needs root or the CAP_NET_RAW capability"
            )

    def _read_stderr(self, listening: threading.Event) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line.strip())
            if "listening on" in line:
                listening.set()
        listening.set()  # tcpdump ended: let start() see it

    def stop(self, timeout: float = 10.0) -> None:
        """Stop tcpdump (SIGINT flushes the file) and read how many packets the kernel dropped."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            time.sleep(0.2)  # the last packets on their way through the kernel to tcpdump
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(OSError):
            if process.stderr is not None:
                process.stderr.close()
        for line in self._stderr:
            found = re.match(r"(\d+) packets? dropped by kernel", line)
            if found:
                self.dropped = int(found.group(1))
        self._process = None

    def packets(self) -> list[Packet]:
        """Every packet captured so far (the file as tcpdump has flushed it: call after :meth:`stop`)."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise TrafficError(f"cannot read the capture {self.path}: {exc.strerror}") from None
        return parse_pcap(data)


__all__ = [
    "SNAPLEN",
    "TCP",
    "UDP",
    "Capture",
    "Packet",
    "TrafficError",
    "bpf_filter",
    "observed",
    "parse_pcap",
]
