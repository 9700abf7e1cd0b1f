"""The traffic benchmark's capture: the pcap reader, the direction of each packet, and tcpdump itself."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from pathlib import Path

import pytest
from bench.traffic_capture import (
    SNAPLEN,
    TCP,
    UDP,
    Capture,
    Packet,
    TrafficError,
    bpf_filter,
    observed,
    parse_pcap,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.bench.pcaps import ethernet, ipv4, ipv6_udp, pcap, trace


def test_reads_tcp_and_udp_packets_with_their_ip_sizes() -> None:
    data = trace(
        [(100.25, TCP, 40000, 5000, 0), (100.5, TCP, 5000, 40000, 300), (101.0, UDP, 5000, 6000, 120)]
    )
    packets = parse_pcap(data)
    assert packets == [
        Packet(100.25, TCP, 40000, 5000, 52, 0),  # a bare ACK: 20 IP + 32 TCP with timestamps
        Packet(100.5, TCP, 5000, 40000, 352, 300),
        Packet(101.0, UDP, 5000, 6000, 148, 120),
    ]


def test_the_ip_length_counts_even_when_the_capture_kept_only_the_headers() -> None:
    # tcpdump -s 128 keeps the headers of a 64 KiB packet: its size comes from the IP header
    (packet,) = parse_pcap(trace([(1.0, TCP, 1, 2, 65_000)]))
    assert packet.size == 65_052 and packet.payload == 65_000


def test_nanosecond_big_endian_ipv6_and_raw_ip_captures() -> None:
    data = pcap([(7.000000123, ipv6_udp(5000, 6000, 10))], link=101, order=">", nanoseconds=True)
    (packet,) = parse_pcap(data)
    assert packet.protocol == UDP and packet.size == 58 and packet.payload == 10
    assert packet.time == pytest.approx(7.000000123, abs=1e-9)


def test_frames_that_are_not_tcp_or_udp_over_ip_are_skipped() -> None:
    arp = ethernet(bytes(28), ethertype=0x0806)
    icmp = ethernet(ipv4(TCP, 1, 2, 0)[:9] + bytes([1]) + ipv4(TCP, 1, 2, 0)[10:20])
    data = pcap([(1.0, arp), (2.0, icmp), (3.0, ethernet(ipv4(UDP, 1, 2, 5)))])
    assert [p.time for p in parse_pcap(data)] == [3.0]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "too short for a pcap header"),
        (bytes(23), "too short for a pcap header"),
        (struct.pack("<I", 0x0A0D0D0A) + bytes(20), "not pcapng"),
        (pcap([], link=105), "link type is 105"),
        (trace([(1.0, UDP, 1, 2, 0)]) + bytes(10), "record 2 at byte 82: its header is cut short"),
        (trace([(1.0, UDP, 1, 2, 0)])[:-5], "record 1 at byte 24: it says 42 bytes follow but only 37 do"),
        (pcap([(1.0, ethernet(ipv4(TCP, 1, 2, 0)[:30]))]), "record 1 at byte 24: a TCP header cut short"),
        (pcap([(1.0, ethernet(b"\x45" + bytes(10)))]), "an IPv4 header cut short"),
    ],
)
def test_a_bad_capture_is_refused_saying_where_and_why(data: bytes, says: str) -> None:
    with pytest.raises(TrafficError, match=says.replace("(", r"\(")):
        parse_pcap(data)


def test_a_header_cut_short_tells_the_snap_length_to_use() -> None:
    with pytest.raises(TrafficError, match=f"-s {SNAPLEN}"):
        parse_pcap(pcap([(1.0, ethernet(ipv4(UDP, 1, 2, 0)[:25]))]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_with_a_traffic_error(data: bytes) -> None:
    with contextlib.suppress(TrafficError):
        parse_pcap(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=24, max_value=400))
def test_any_cut_of_a_real_looking_capture_is_read_or_refused(noise: bytes, cut: int) -> None:
    data = trace([(1.5, TCP, 40000, 5000, 100), (2.5, UDP, 5000, 5001, 7)]) + noise
    with contextlib.suppress(TrafficError):
        parse_pcap(data[:cut])


packet_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2**31).map(lambda us: us / 1e6),
        st.sampled_from([TCP, UDP]),
        st.integers(min_value=1, max_value=65535),
        st.integers(min_value=1, max_value=65535),
        st.integers(min_value=0, max_value=60_000),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(packet_specs)
def test_every_packet_written_is_read_back(specs: list[tuple[float, int, int, int, int]]) -> None:
    packets = parse_pcap(trace(specs))
    assert [(p.protocol, p.src_port, p.dst_port, p.payload) for p in packets] == [s[1:] for s in specs]
    assert [p.time for p in packets] == pytest.approx([s[0] for s in specs], abs=1e-6)


def test_directions_follow_the_listening_ports_whoever_dialled() -> None:
    a, b = 5000, 6000
    packets = [
        Packet(1.0, TCP, 40000, b, 60, 8),  # a dialled b: a's ephemeral port to b's listening port
        Packet(2.0, TCP, b, 40000, 52, 0),
        Packet(3.0, TCP, 41000, a, 60, 8),  # b dialled a
        Packet(4.0, TCP, a, 41000, 52, 0),
        Packet(5.0, UDP, a, b, 148, 120),  # media from listening port to listening port
        Packet(6.0, UDP, b, a, 148, 120),
        Packet(7.0, TCP, 7000, 8000, 52, 0),  # someone else
    ]
    assert observed(packets, a, b) == [
        (1.0, 1, 60),
        (2.0, -1, 52),
        (3.0, -1, 60),
        (4.0, 1, 52),
        (5.0, 1, 148),
        (6.0, -1, 148),
    ]


def test_the_filter_takes_tcp_and_udp_on_every_port() -> None:
    assert bpf_filter(5000, 6000) == "(tcp or udp) and (port 5000 or port 6000)"


def test_tcpdump_records_what_crosses_the_ports(tmp_path: Path) -> None:
    """A real capture on loopback (tcpdump is in scripts/debian-packages.txt; tests run as root)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        sender.bind(("127.0.0.1", 0))
        ours, theirs = receiver.getsockname()[1], sender.getsockname()[1]
        capture = Capture(tmp_path / "line.pcap", (ours,))
        capture.start()
        try:
            before = time.time()
            for size in (10, 200, 1000):
                sender.sendto(bytes(size), ("127.0.0.1", ours))
                receiver.recv(2000)
            time.sleep(0.2)
        finally:
            capture.stop()
    packets = [p for p in capture.packets() if p.dst_port == ours]
    assert [(p.protocol, p.src_port, p.payload, p.size) for p in packets] == [
        (UDP, theirs, 10, 38),
        (UDP, theirs, 200, 228),
        (UDP, theirs, 1000, 1028),
    ]
    assert all(before - 1 < p.time < time.time() + 1 for p in packets)
    assert capture.dropped == 0
