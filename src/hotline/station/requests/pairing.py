"""Pairing by code: ``pair.listen`` and ``pair.connect`` (docs/protocol.md §11; the work is in
:mod:`hotline.station.pairing`). Both are live: the listener streams its code, then the connection."""

from __future__ import annotations

import msgspec

from hotline.proto.safety import safety_number
from hotline.proto.suites import DEFAULT_PROFILE
from hotline.station.errors import StationError
from hotline.station.lines.line import Line
from hotline.station.pairing import pair_connect as connect
from hotline.station.pairing import pair_listen as listen
from hotline.station.requests.base import Args, Emit, StationHost
from hotline.station.views import describe_line


class PairListenArgs(Args):
    peer: str
    listen: str
    endpoints: list[str] = msgspec.field(default_factory=list)
    timeout: float = 600.0
    profile: str = DEFAULT_PROFILE


class PairConnectArgs(Args):
    peer: str
    connect: str
    code: str
    endpoints: list[str] = msgspec.field(default_factory=list)
    timeout: float = 600.0
    profile: str = DEFAULT_PROFILE


async def pair_listen(station: StationHost, args: PairListenArgs, emit: Emit) -> dict[str, object]:
    """``pair.listen``: show a code and pair with the first station that connects."""
    _check_pair_timeout(args.timeout)
    line = await listen(
        station,
        peer=args.peer,
        listen=args.listen,
        endpoints=list(args.endpoints),
        timeout=args.timeout,
        emit=emit,
        profile=args.profile,
    )
    return _paired(station, line)


async def pair_connect(station: StationHost, args: PairConnectArgs, emit: Emit) -> dict[str, object]:
    """``pair.connect``: connect to a listening station and pair with its code."""
    _check_pair_timeout(args.timeout)
    line = await connect(
        station,
        peer=args.peer,
        connect=args.connect,
        code=args.code,
        endpoints=list(args.endpoints),
        timeout=args.timeout,
        profile=args.profile,
    )
    return _paired(station, line)


def _check_pair_timeout(timeout: float) -> None:
    if not 0 < timeout <= 86_400:
        raise StationError("bad-request", "the pairing timeout is 0 to 86400 seconds")


def _paired(station: StationHost, line: Line) -> dict[str, object]:
    number = safety_number(station.identity.public(), line.card, profile=line.profile)
    return {
        **describe_line(line, running=station.running),
        "digits": number.digits,
        "groups": list(number.groups),
        "words": list(number.words),
    }


__all__ = ["PairConnectArgs", "PairListenArgs", "pair_connect", "pair_listen"]
