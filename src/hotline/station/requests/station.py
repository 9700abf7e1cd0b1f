"""Requests about the station itself: ``station``, ``card`` and ``status`` (docs/control.md)."""

from __future__ import annotations

import os
import time

from hotline.proto.cards import armor_card, parse_endpoint
from hotline.proto.linemsg import Kind, Precedence
from hotline.station.home import key_protection
from hotline.station.lines.line import Line
from hotline.station.requests.base import Emit, NoArgs, StationHost
from hotline.station.requests.carriermeter import meter_of
from hotline.station.views import describe_carrier, describe_line
from hotline.store.db import Store


async def station_info(station: StationHost, _: NoArgs, emit: Emit) -> dict[str, object]:
    """``station``: who this station is and whether it serves."""
    s = station
    return {
        "name": s.identity.name,
        "fingerprint": str(s.identity.fingerprint),
        "listen": s.config.listen if s.listen_port is None else f"{_host(s.config.listen)}:{s.listen_port}",
        "endpoints": s.config.advertised,
        "running": s.running,
        "pid": os.getpid() if s.running else None,
        "started_at": s.started_at if s.running else None,
        **key_protection(s.paths.home),
        "handshakes_throttled_by_address": s.handshakes.limits.dropped_by_source,
    }


async def card(station: StationHost, _: NoArgs, emit: Emit) -> dict[str, object]:
    """``card``: our card, issued now."""
    issued = station.card()
    return {
        "name": issued.name,
        "fingerprint": str(issued.fingerprint),
        "profiles": list(issued.profiles),
        "armored": armor_card(issued),
        "endpoints": list(issued.endpoints),
    }


async def status(station: StationHost, _: NoArgs, emit: Emit) -> dict[str, object]:
    """``status``: the station and every line's status."""
    # the job gets the line ids, never the live lines
    line_ids = [ln.row.id for ln in station.lines.values()]
    unread = station.events.unread
    recount = unread.stale(line_ids)

    def count(store: Store) -> tuple[dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
        queued = {line_id: store.messages.count_queued(line_id) for line_id in line_ids}
        unacked = {i: store.messages.count_unacked(i, (Kind.TEXT, Kind.DOC)) for i in recount}
        return queued, unacked

    counts, unacked = await station.worker.call(count)
    for line_id, generation in recount.items():
        unread.counted(line_id, generation, unacked[line_id])
    lines = []
    now = time.monotonic()
    meter = meter_of(station)
    meter.forget_others({line.peer for line in station.lines.values()})
    for line in sorted(station.lines.values(), key=lambda line: line.peer):
        info = describe_line(line, running=station.running)
        session = line.current if line.up else None
        queued, in_flight = counts.get(line.row.id, (0, 0))
        by_precedence = unacked[line.row.id] if line.row.id in unacked else unread.of(line.row.id)
        if line.up:
            # receipts are known at once; the store's delivered marks follow a moment later
            in_flight = min(in_flight, line.delivery.machine.out_seq - line.delivery.machine.peer_seq)
        rtt = session.channel.rtt if session is not None else None
        info.update(
            since=line.state_since,
            endpoint=session.endpoint if session is not None else None,
            rtt_ms=None if rtt is None else rtt * 1000,
            # monotonic: the wall clock may have stepped since the session began
            session_age=None if session is None else now - session.started,
            rekeys=None if session is None else session.channel.rekeys,
            replays_dropped=line.replays,
            **station.handshakes.counts(line.row.static_public),
            **station.quotas.status(line),
            queued=queued,
            in_flight=in_flight,
            unread=sum(by_precedence.values()),
            unread_flash=by_precedence.get(Precedence.FLASH, 0),
            last_test=None if line.last_test is None else line.last_test.as_dict(),
            alerts=list(line.alerts),
        )
        call = station.calls.on_line(line.peer)
        info["call"] = call.describe() if call is not None and not call.ended else None
        info["carrier"] = _carrier(station, line, now)
        lines.append(info)
    return {"station": await station_info(station, NoArgs(), emit), "lines": lines}


def _carrier(station: StationHost, line: Line, now: float) -> dict[str, object] | None:
    """The line's ``carrier``: the setting from ``station.toml``, the live numbers from its session."""
    setting = station.config.line(line.peer).carrier_setting()
    session = line.current
    status = None
    if setting is not None and session is not None and not session.channel.is_closed:
        status = session.channel.carrier_status()
    meter = meter_of(station)
    if status is None:
        meter.forget(line.peer)  # and the session it measured with it
        return describe_carrier(setting, None)
    return describe_carrier(setting, status, load=meter.measure(line.peer, session, status, now))


def _host(endpoint: str) -> str:
    return parse_endpoint(endpoint)[0]


__all__ = ["card", "station_info", "status"]
