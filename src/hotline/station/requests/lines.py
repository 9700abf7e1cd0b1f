"""Requests about lines: add, grant, accept, verify, profile, list, remove, and clearing alerts.

A line is made from the peer's card (``line.add``), keyed by one side's ``line.grant`` and the
other's ``line.accept``, and carries traffic once the operators compared the safety number and
confirmed it (``line.verify`` with ``confirm``); docs/protocol.md §8.

A line has a profile (docs/protocol.md §3.8), given when it is made and ``standard`` unless said.
Changing it (``line.profile``, or ``line.add`` again naming another one) is a key change
(docs/control.md "Line profiles"): the line key and the verification go, the line drops its
session, and a ``profile-changed`` alert says what to do next. ``line.add`` again *without* a
profile keeps the line's own: refreshing a card never changes a profile by omission.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import msgspec

from hotline.proto.cards import StationCard, dearmor_card, encode_card, parse_endpoint
from hotline.proto.delivery import chain_start
from hotline.proto.identity_errors import CardError, IdentityError, LineKeyError
from hotline.proto.linekeys import (
    check_supersedes,
    create_line_key,
    grant_label,
    next_created_at,
    open_line_key,
)
from hotline.proto.safety import safety_number
from hotline.proto.suites import DEFAULT_PROFILE, SUITES, ProfileName, Suite, suite
from hotline.station.alertkinds import AlertKind
from hotline.station.cardkeys import key_clash
from hotline.station.documents import doc_dir
from hotline.station.documents.blobfiles import remove_line
from hotline.station.errors import StationError
from hotline.station.lines.line import Line
from hotline.station.lines.profilecheck import PROFILE_MISMATCH
from hotline.station.requests.base import Args, Emit, NoArgs, PeerArgs, StationHost, check_peer_name
from hotline.station.views import describe_line
from hotline.store.db import Store
from hotline.store.schema import OUT


class LineAddArgs(Args):
    peer: str
    card: str
    endpoints: list[str] = msgspec.field(default_factory=list)
    #: None: ``standard`` for a new line, the line's own for one we hold.
    profile: str | None = None


class LineProfileArgs(Args):
    peer: str
    profile: str


#: The alert of a line whose profile was changed here.
PROFILE_CHANGED = AlertKind.PROFILE_CHANGED


def check_profile(name: str) -> Suite:
    """The suite of the profile ``name`` an operator gave.

    Raises:
        StationError: ``bad-request`` naming the profiles there are.
    """
    try:
        return suite(name)
    except ValueError:
        raise StationError(
            "bad-request", f"{name!r} is not a line profile: use one of {', '.join(SUITES)}"
        ) from None


def check_card_carries(card: StationCard, line_suite: Suite) -> None:
    """Refuse a card that lacks the keys a line of ``line_suite`` needs.

    Every card carries what a ``standard`` line needs. A ``cnsa2`` line also needs the peer's
    ML-KEM-1024, P-384 and ML-DSA-87 keys, which come with version 2 cards only.

    Raises:
        StationError: ``bad-card`` saying the peer must upgrade and send a fresh card.
    """
    try:
        card.require_profile(line_suite.profile)
    except CardError:
        raise StationError(
            "bad-card",
            f"the card of {card.name!r} carries no {line_suite.profile} keys (a version 1 card, from a "
            f"station that predates line profiles): {card.name!r} must upgrade Hotline and open its "
            f"station once (that adds the keys), then send a fresh card (`hotline card`) to add here "
            f"with `hotline line add`",
        ) from None


def line_digests(station: StationHost, card: StationCard, line_suite: Suite) -> tuple[bytes, bytes]:
    """``(ours, theirs)``: the two stations' key digests of the line's profile (docs/protocol.md
    §8.1), what the transcript chains start from and what verification pins.

    Raises:
        StationError: ``bad-card`` (the card lacks the profile's keys), ``bad-request`` (this
            station holds none: its key file could not be upgraded yet).
    """
    check_card_carries(card, line_suite)
    profile = line_suite.profile
    if profile not in station.identity.profiles:
        raise StationError(
            "bad-request",
            f"this station holds no {profile} keys yet: restart it (opening it adds them) and try again",
        )
    return station.identity.key_digest_for(profile), card.key_digest_for(profile)


async def _outbound_waiting(station: StationHost, line: Line) -> int:
    line_id = line.row.id

    def count(store: Store) -> int:
        seq, _ = store.messages.position(line_id, OUT)
        row = store.lines.by_id(line_id)
        return 0 if row is None else max(0, seq - row.delivered_upto)

    return int(await station.worker.call(count))


async def change_profile(station: StationHost, line: Line, profile: ProfileName) -> bool:
    """Give ``line`` the profile ``profile``: a key change. Whether it changed.

    The store drops the line key and the verification and seals the line's values again under the
    new profile, in one transaction; the line then drops its session (it is no longer keyed and
    verified) and raises ``profile-changed``.
    """
    old, line_id = line.profile, line.row.id
    if old == profile:
        return False
    new = suite(profile)
    ours, theirs = line_digests(station, line.card, new)
    # the chain's hash follows the profile (§10.1): an entry chained under the old one and not yet
    # receipted would reach the peer under the new one as tampering, so none may be waiting
    waiting = await _outbound_waiting(station, line)
    if waiting:
        raise StationError(
            "entries-waiting",
            f"{waiting} of our entries on the line to {line.peer} wait for {line.peer}'s receipt: their "
            f"chain is the {old} profile's. Let them be delivered (the line up), then change the profile",
        )

    def change(store: Store) -> Any:
        changed = store.lines.set_profile(
            line_id,
            profile,
            key_digest=theirs,
            chains=(chain_start(ours, theirs, new), chain_start(theirs, ours, new)),
        )
        return changed, store.lines.by_id(line_id)

    changed, row = await station.worker.call(change)
    if not changed:
        return False
    line.refresh(row, None)
    line.delivery.follow_profile(row)
    line.profiles_agree()  # whatever the peer was found with, it is told again after the change
    line.clear_alerts((PROFILE_MISMATCH,))
    line.alert(
        PROFILE_CHANGED,
        f"the line to {line.peer} changed its profile from {old} to {profile}: a key change. It carries "
        f"nothing until {line.peer}'s end has the same profile, a new line key is granted and accepted "
        f"(or the stations pair again) and both operators compare the safety number again "
        f"(`hotline line verify {line.peer}`)",
    )
    return True


class LineAcceptArgs(Args):
    peer: str
    sealed: str


class LineVerifyArgs(Args):
    peer: str
    confirm: bool = False


class AlertsClearArgs(Args):
    peer: str
    kinds: list[str] = msgspec.field(default_factory=list)


async def line_add(station: StationHost, args: LineAddArgs, emit: Emit) -> dict[str, object]:
    """``line.add``: a new line from the peer's card, or a fresher card for a line we hold."""
    check_peer_name(args.peer)
    try:
        card = dearmor_card(args.card)
    except CardError as exc:
        raise StationError("bad-card", f"the card for {args.peer!r} is not valid: {exc.reason}") from None
    if card.key_digest == station.identity.key_digest:
        raise StationError("bad-card", "that is this station's own card")
    endpoints = list(args.endpoints) or list(card.endpoints)
    for endpoint in endpoints:
        try:
            parse_endpoint(endpoint)
        except ValueError as exc:
            raise StationError("bad-request", f"endpoint {endpoint!r}: {exc}") from None
    static = card.static_public.raw
    if (clash := key_clash(station, card, peer=args.peer)) is not None:
        raise clash
    existing = station.lines.get(args.peer)
    asked = None if args.profile is None else check_profile(args.profile)
    line_suite = asked or (existing.suite if existing is not None else suite(DEFAULT_PROFILE))
    ours, theirs = line_digests(station, card, line_suite)
    if existing is not None:
        # the held line's digest is of its own profile; the change (if asked) comes after
        check_card_carries(card, existing.suite)
        theirs = card.key_digest_for(existing.profile)
    if existing is None:
        row = await station.worker.call(
            lambda store: store.lines.add(
                peer=args.peer,
                card=encode_card(card),
                key_digest=theirs,
                static_public=static,
                endpoints=endpoints,
                now=time.time(),
                chain_out0=chain_start(ours, theirs, line_suite),
                chain_in0=chain_start(theirs, ours, line_suite),
                profile=line_suite.profile,
            )
        )
        line = await station.add_line(row)
        return describe_line(line, running=station.running)
    if existing.row.key_digest != theirs:
        # a key change is loud: the verified line keeps its pinned keys and the attempt is logged
        existing.alert(AlertKind.KEY_CHANGED, f"a card for {args.peer} with other keys was refused")
        raise StationError(
            "line-exists",
            f"the line {args.peer!r} has a card with other keys: if the peer really changed keys, "
            f"`hotline line remove {args.peer}` and add it again, then verify",
        )
    line_id = existing.row.id

    def update(store: Store) -> Any:
        store.lines.update(
            line_id, card=encode_card(card), key_digest=theirs, static_public=static, endpoints=endpoints
        )
        return store.lines.by_id(line_id), store.lines.key(line_id)

    row, key = await station.worker.call(update)
    existing.refresh(row, key)
    if asked is not None:
        await change_profile(station, existing, asked.profile)
    return describe_line(existing, running=station.running)


async def line_grant(station: StationHost, args: PeerArgs, emit: Emit) -> dict[str, object]:
    """``line.grant``: make a new line key and seal it to the peer."""
    line = station.line(args.peer)
    card = line.card
    created = next_created_at(int(time.time()), line.row.key_created_at)
    label = grant_label(station.identity.name, card.name)
    try:
        key, sealed = create_line_key(
            sender=station.identity, recipient=card, label=label, created_at=created, profile=line.profile
        )
    except IdentityError as exc:
        raise StationError("bad-line-key", exc.reason) from None
    line_id = line.row.id

    def store_key(store: Store) -> Any:
        store.lines.set_key(line_id, key.key, created)
        return store.lines.by_id(line_id)

    line.refresh(await station.worker.call(store_key), key.key)
    return {"peer": line.peer, "sealed": base64.b64encode(sealed).decode("ascii"), "created_at": created}


async def line_accept(station: StationHost, args: LineAcceptArgs, emit: Emit) -> dict[str, object]:
    """``line.accept``: open the line key the peer sealed to us."""
    line = station.line(args.peer)
    try:
        sealed = base64.b64decode(args.sealed, validate=True)
    except (binascii.Error, ValueError):
        raise StationError("bad-line-key", "the sealed line key is not base64") from None
    try:
        key = open_line_key(sealed, station.identity, line.card, profile=line.profile)
    except IdentityError as exc:
        raise StationError(
            "bad-line-key", f"the line key from {args.peer!r} does not open: {exc.reason}"
        ) from None
    try:
        check_supersedes(key.created_at, line.row.key_created_at, line=args.peer)
    except LineKeyError as exc:
        raise StationError("bad-line-key", exc.reason) from None
    line_id = line.row.id

    def store_key(store: Store) -> Any:
        store.lines.set_key(line_id, key.key, key.created_at)
        return store.lines.by_id(line_id)

    line.refresh(await station.worker.call(store_key), key.key)
    return describe_line(line, running=station.running)


async def line_verify(station: StationHost, args: LineVerifyArgs, emit: Emit) -> dict[str, object]:
    """``line.verify``: the safety number; with ``confirm`` the line is verified."""
    line = station.line(args.peer)
    # the number and the pin are the line profile's (§8.4): a profile change asks for both again
    number = safety_number(station.identity.public(), line.card, profile=line.profile)
    if args.confirm and not line.row.verified:
        line_id, digest = line.row.id, line.row.key_digest

        def verify(store: Store) -> Any:
            store.lines.set_verified(line_id, digest)
            return store.lines.by_id(line_id)

        line.refresh(await station.worker.call(verify), line.key)
    if args.confirm:
        # the operators compared the number again: a standing key-change warning is answered
        line.clear_alerts(("key-changed",))
    return {
        "peer": line.peer,
        "digits": number.digits,
        "groups": list(number.groups),
        "words": list(number.words),
        "verified": line.row.verified,
        "profile": line.profile,
        "fingerprint": str(line.card.fingerprint_for(line.profile)),
    }


async def line_profile(station: StationHost, args: LineProfileArgs, emit: Emit) -> dict[str, object]:
    """``line.profile``: give the line another profile (a key change; nothing when it has it)."""
    line = station.line(args.peer)
    new = check_profile(args.profile)
    check_card_carries(line.card, new)
    changed = await change_profile(station, line, new.profile)
    return {**describe_line(line, running=station.running), "changed": changed}


async def alerts_clear(station: StationHost, args: AlertsClearArgs, emit: Emit) -> dict[str, object]:
    """``alerts.clear``: the operator has seen a line's alerts (all, or of some kinds): they stop standing."""
    line = station.line(args.peer)
    cleared = line.clear_alerts(tuple(args.kinds) if args.kinds else None)
    return {"peer": line.peer, "cleared": cleared, "alerts": list(line.alerts)}


async def line_list(station: StationHost, _: NoArgs, emit: Emit) -> dict[str, object]:
    """``line.list``: every line, by name."""
    lines = sorted(station.lines.values(), key=lambda line: line.peer)
    return {"lines": [describe_line(line, running=station.running) for line in lines]}


async def line_remove(station: StationHost, args: PeerArgs, emit: Emit) -> dict[str, object]:
    """``line.remove``: the line, its transcript, its documents and their files go."""
    line = station.line(args.peer)
    await remove_line(station, line.row.id, doc_dir(station))
    station.drop_line(args.peer)
    return {"peer": args.peer, "removed": True}


__all__ = [
    "PROFILE_CHANGED",
    "AlertsClearArgs",
    "LineAcceptArgs",
    "LineAddArgs",
    "LineProfileArgs",
    "LineVerifyArgs",
    "alerts_clear",
    "change_profile",
    "check_card_carries",
    "check_profile",
    "line_accept",
    "line_add",
    "line_digests",
    "line_grant",
    "line_list",
    "line_profile",
    "line_remove",
    "line_verify",
]
