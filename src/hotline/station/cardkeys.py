"""Which cards a station takes: none whose keys are its own or another line's (F10, docs/protocol.md §8.3).

A card's signature proves only that its signer holds the signing key. Nothing proves that it holds
the X25519 and ML-KEM-768 private keys it lists, so a card may borrow another station's keys. Such a
card can never bring a line up (the handshake needs the X25519 private key, the line key is sealed to
both), but added first it would stand in the way of the real station's card, and two lines sharing a
static key would make the handshake's lookup ambiguous. ``line add`` and pairing therefore refuse a
card that shares any of its three keys with this station or with a card of another line, and name the
line so its operator knows what to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from hotline.proto.cards import StationCard, shared_keys
from hotline.proto.identity import Identity
from hotline.station.errors import StationError
from hotline.station.views import LineFacts


class CardHolder(Protocol):
    """The station as the check sees it: its identity and its lines by name."""

    @property
    def identity(self) -> Identity: ...
    @property
    def lines(self) -> Mapping[str, LineFacts]: ...


__all__ = ["CardHolder", "key_clash"]


def _keys(names: tuple[str, ...]) -> str:
    listed = " and ".join(names) if len(names) < 3 else f"{names[0]}, {names[1]} and {names[2]}"
    return f"{listed} key{'s' if len(names) > 1 else ''}"


def key_clash(station: CardHolder, card: StationCard, *, peer: str) -> StationError | None:
    """Why ``card`` may not be the card of the line ``peer``, or None when it may.

    The line ``peer`` itself is not compared: a card for it with the same keys is a refresh, and one
    with other keys is the caller's key-change case.

    Returns:
        ``bad-card`` when the card holds one of this station's own keys; ``line-exists`` naming the
        line whose card holds one of its keys.
    """
    own = shared_keys(card, station.identity.public())
    if own:
        return StationError(
            "bad-card",
            f"the card for {peer!r} carries this station's own {_keys(own)}: a card may hold only "
            "keys of its own, so it is not a real station's card",
        )
    for line in sorted(station.lines.values(), key=lambda line: line.peer):
        if line.peer == peer:
            continue
        shared = shared_keys(card, line.card.public_identity())
        if shared:
            state = "verified" if line.row.verified else "not verified"
            return StationError(
                "line-exists",
                f"the card for {peer!r} carries the {_keys(shared)} of the line {line.peer!r} "
                f"({state}): one station, one line. If {line.peer!r} is not really that station, "
                f"compare its safety number (`hotline line verify {line.peer}`) and remove it "
                f"(`hotline line remove {line.peer}`) before adding this card",
            )
    return None
