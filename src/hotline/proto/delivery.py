"""The rules of reliable delivery on a line (docs/protocol.md §10), as pure functions.

Each direction of a line is a transcript: entries numbered 1, 2, 3… by the sender, each folded into a
hash chain. The receiver takes entry ``n`` only right after ``n - 1`` and only if its own chain,
computed over what it received, lands on the head the sender claims. So a gap, a reordering or an
altered entry is never silently absorbed: it is named, and the station raises an alert. Duplicates
(a resend after a fault) are recognised by sequence number and answered with a receipt again.

The chain follows the line's profile (:attr:`~hotline.proto.suites.Suite.mac_hash`): keyed BLAKE2s
for ``standard``, HMAC-SHA-384 truncated to 32 bytes (with its own label) for ``cnsa2``; a head is
32 bytes under both.

This module knows nothing of stores or sockets; the station applies its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from hotline.crypto.hashing import blake2s, constant_time_equal, digest, hmac_digest
from hotline.proto.linemsg import Entry
from hotline.proto.suites import STANDARD, Suite

_CHAIN_LABEL = b"hotline/chain/v1"
#: The label of the other profiles' chains: the hash's name follows, so no two profiles share one.
_CHAIN_LABEL_HMAC = b"hotline/chain/v1/"
#: Bytes of a chain head, under every profile.
HEAD_LEN = 32
_ENCODER = msgspec.msgpack.Encoder()


def chain_start(sender_digest: bytes, recipient_digest: bytes, suite: Suite = STANDARD) -> bytes:
    """The head of an empty transcript from ``sender`` to ``recipient`` (their identity key digests)
    on a line of profile ``suite``."""
    name = suite.mac_hash
    if name == "BLAKE2s":
        return blake2s(_CHAIN_LABEL + sender_digest + recipient_digest)
    label = _CHAIN_LABEL_HMAC + name.encode()
    return digest(name, label + sender_digest + recipient_digest)[:HEAD_LEN]


def chain_next(
    head: bytes,
    *,
    seq: int,
    id: bytes,
    kind: int,
    precedence: int,
    created_ms: int,
    ref: bytes,
    body: bytes,
    suite: Suite = STANDARD,
) -> bytes:
    """The chain head after appending one entry to a transcript whose head was ``head``, on a line
    of profile ``suite``."""
    fields = _ENCODER.encode((seq, id, kind, precedence, created_ms, ref, body))
    name = suite.mac_hash
    if name == "BLAKE2s":
        return blake2s(head + fields, key=_CHAIN_LABEL)
    return hmac_digest(name, _CHAIN_LABEL_HMAC + name.encode(), head + fields)[:HEAD_LEN]


def entry_chain(head: bytes, entry: Entry, suite: Suite = STANDARD) -> bytes:
    """:func:`chain_next` over ``entry``'s fields."""
    return chain_next(
        head,
        suite=suite,
        seq=entry.seq,
        id=entry.id,
        kind=entry.kind,
        precedence=entry.precedence,
        created_ms=entry.created_ms,
        ref=entry.ref,
        body=entry.body,
    )


@dataclass(frozen=True, slots=True)
class Accept:
    """Store the entry; the transcript's head becomes ``head``."""

    head: bytes


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Already stored: answer with a receipt again, store nothing."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Entries between ``expected`` and the one received are missing."""

    expected: int


@dataclass(frozen=True, slots=True)
class ChainMismatch:
    """The entry's chain head is not what our transcript gives: it was altered, or so was ours."""

    expected: bytes


Verdict = Accept | Duplicate | Gap | ChainMismatch


def classify(received_seq: int, received_head: bytes, entry: Entry, suite: Suite = STANDARD) -> Verdict:
    """What to do with ``entry`` when our inbound transcript ends at ``received_seq`` / ``received_head``
    on a line of profile ``suite``."""
    if entry.seq <= received_seq:
        return Duplicate()
    if entry.seq != received_seq + 1:
        return Gap(received_seq + 1)
    head = entry_chain(received_head, entry, suite)
    if not constant_time_equal(head, entry.chain):
        return ChainMismatch(head)
    return Accept(head)


__all__ = [
    "HEAD_LEN",
    "Accept",
    "ChainMismatch",
    "Duplicate",
    "Gap",
    "Verdict",
    "chain_next",
    "chain_start",
    "classify",
    "entry_chain",
]
