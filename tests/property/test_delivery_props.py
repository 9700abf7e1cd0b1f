"""Hypothesis properties for reliable delivery (hotline.proto.delivery).

Two kinds of check (style.md §6):

* transcript properties: a sender's transcript fed in order is all ``Accept`` and ends on the
  sender's head; any single alteration, drop or swap is detected, i.e. the receiver never ends up
  having accepted everything *and* agreeing with the sender's final head;
* a differential test against :class:`SlowReceiver`, which keeps the whole transcript and recomputes
  the chain from the empty head on every entry with its own hashing (``hashlib``), as the module
  docstring describes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.delivery import (
    Accept,
    ChainMismatch,
    Duplicate,
    Gap,
    Verdict,
    chain_next,
    chain_start,
    classify,
)
from hotline.proto.linemsg import CHAIN_LEN, MESSAGE_ID_LEN, Entry, Kind, Precedence

SENDER = b"\x51" * 32
RECIPIENT = b"\x52" * 32
_LABEL = b"hotline/chain/v1"

ids = st.binary(min_size=MESSAGE_ID_LEN, max_size=MESSAGE_ID_LEN)
kinds = st.sampled_from([int(k) for k in Kind])
precedences = st.sampled_from([int(p) for p in Precedence])


def _payload_values(body_size: int) -> dict[str, st.SearchStrategy[Any]]:
    """A strategy for each field of an entry's payload; bodies of ``body_size`` bytes at most."""
    return {
        "id": ids,
        "kind": kinds,
        "precedence": precedences,
        "created_ms": st.integers(0, 2**48),
        "ref": st.one_of(st.just(b""), ids),
        "body": st.binary(max_size=body_size),
    }


payloads = st.fixed_dictionaries(_payload_values(24))
payload_lists = st.lists(payloads, min_size=1, max_size=8)

_FIELD_ORDER = ("seq", "id", "kind", "precedence", "created_ms", "ref", "body")


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__struct_fields__}


def build_transcript(payloads: list[dict[str, Any]]) -> tuple[list[Entry], bytes]:
    """What the sender puts on the wire, and its final chain head."""
    head = chain_start(SENDER, RECIPIENT)
    entries = []
    for seq, payload in enumerate(payloads, start=1):
        head = chain_next(head, seq=seq, **payload)
        entries.append(Entry(seq=seq, chain=head, **payload))
    return entries, head


@dataclass
class FastReceiver:
    """The station's receiver: ``classify``, and apply ``Accept``."""

    seq: int = 0
    head: bytes = field(default_factory=lambda: chain_start(SENDER, RECIPIENT))

    def receive(self, entry: Entry) -> Verdict:
        verdict = classify(self.seq, self.head, entry)
        if isinstance(verdict, Accept):
            self.seq, self.head = entry.seq, verdict.head
        return verdict


@dataclass
class SlowReceiver:
    """The obvious model: keep every accepted entry, recompute the whole chain each time."""

    accepted: list[Entry] = field(default_factory=list)

    @staticmethod
    def _start() -> bytes:
        return hashlib.blake2s(_LABEL + SENDER + RECIPIENT).digest()

    @classmethod
    def _fold(cls, entries: list[Entry]) -> bytes:
        head = cls._start()
        for entry in entries:
            encoded = msgspec.msgpack.encode(tuple(getattr(entry, name) for name in _FIELD_ORDER))
            head = hashlib.blake2s(head + encoded, key=_LABEL).digest()
        return head

    @property
    def head(self) -> bytes:
        return self._fold(self.accepted)

    def receive(self, entry: Entry) -> Verdict:
        held = {e.seq for e in self.accepted}
        if entry.seq in held or entry.seq < 1:
            return Duplicate()
        expected = len(self.accepted) + 1
        if entry.seq != expected:
            return Gap(expected)
        head = self._fold([*self.accepted, entry])
        if head != entry.chain:
            return ChainMismatch(head)
        self.accepted.append(entry)
        return Accept(head)


def feed(entries: list[Entry]) -> tuple[list[Verdict], FastReceiver]:
    """Deliver ``entries`` in order, stopping at the first verdict that is not ``Accept``.

    The station stops taking entries there too (it raises an alert and waits for a resend).
    """
    receiver = FastReceiver()
    verdicts: list[Verdict] = []
    for entry in entries:
        verdict = receiver.receive(entry)
        verdicts.append(verdict)
        if not isinstance(verdict, Accept):
            break
    return verdicts, receiver


def undetected(entries: list[Entry], sender_head: bytes) -> bool:
    """The receiver accepted everything and agrees with the sender's final head."""
    verdicts, receiver = feed(entries)
    return all(isinstance(v, Accept) for v in verdicts) and receiver.head == sender_head


# -- the model itself


def test_slow_receiver_agrees_with_the_module_on_the_construction() -> None:
    """Pins the chain construction: if this fails, the differential test below proves nothing."""
    entries, head = build_transcript(
        [{"id": b"\x01" * 10, "kind": 0, "precedence": 3, "created_ms": 5, "ref": b"", "body": b"x"}]
    )
    assert SlowReceiver._start() == chain_start(SENDER, RECIPIENT)
    assert SlowReceiver._fold(entries) == head


# -- in order


@settings(max_examples=60)
@given(payload_lists)
def test_in_order_transcript_is_all_accepted_and_ends_on_the_senders_head(
    payloads: list[dict[str, Any]],
) -> None:
    entries, sender_head = build_transcript(payloads)
    verdicts, receiver = feed(entries)
    assert verdicts == [Accept(e.chain) for e in entries]
    assert receiver.seq == len(entries)
    assert receiver.head == sender_head


@settings(max_examples=40)
@given(payload_lists, st.data())
def test_resending_any_accepted_entry_is_a_duplicate(
    payloads: list[dict[str, Any]], data: st.DataObject
) -> None:
    entries, sender_head = build_transcript(payloads)
    _, receiver = feed(entries)
    resent = data.draw(st.sampled_from(entries))
    assert receiver.receive(resent) == Duplicate()
    assert (receiver.seq, receiver.head) == (len(entries), sender_head)


# -- single faults are detected


def _altered_value(data: st.DataObject, name: str, old: Any) -> Any:
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "seq": st.integers(1, 2**32),
        **_payload_values(64),
        "chain": st.binary(min_size=CHAIN_LEN, max_size=CHAIN_LEN),
    }
    return data.draw(strategies[name].filter(lambda value: value != old), label=f"new {name}")


@settings(max_examples=120)
@given(payload_lists, st.data())
def test_an_altered_field_is_detected(payloads: list[dict[str, Any]], data: st.DataObject) -> None:
    entries, sender_head = build_transcript(payloads)
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    name = data.draw(st.sampled_from(Entry.__struct_fields__), label="field")
    fields = _fields(entries[index])
    fields[name] = _altered_value(data, name, fields[name])
    tampered = [*entries[:index], Entry(**fields), *entries[index + 1 :]]

    assert not undetected(tampered, sender_head)
    verdicts, _ = feed(tampered)
    # everything before the alteration is taken; the altered entry itself is refused
    assert verdicts[:index] == [Accept(e.chain) for e in entries[:index]]
    assert len(verdicts) == index + 1
    if name != "seq":
        assert isinstance(verdicts[index], ChainMismatch)


@settings(max_examples=80)
@given(payload_lists, st.data())
def test_an_altered_entry_with_a_recomputed_chain_is_detected(
    payloads: list[dict[str, Any]], data: st.DataObject
) -> None:
    """A forger who fixes up the altered entry's own chain is caught by the next entry, or the head."""
    entries, sender_head = build_transcript(payloads)
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    name = data.draw(st.sampled_from([n for n in _FIELD_ORDER if n != "seq"]), label="field")
    fields = _fields(entries[index])
    fields[name] = _altered_value(data, name, fields[name])
    previous = entries[index - 1].chain if index else chain_start(SENDER, RECIPIENT)
    fields["chain"] = chain_next(previous, **{n: fields[n] for n in _FIELD_ORDER})
    tampered = [*entries[:index], Entry(**fields), *entries[index + 1 :]]

    assert not undetected(tampered, sender_head)
    verdicts, receiver = feed(tampered)
    if index + 1 < len(entries):
        assert isinstance(verdicts[index + 1], ChainMismatch)
    else:
        assert receiver.head != sender_head


@settings(max_examples=80)
@given(payload_lists, st.data())
def test_a_dropped_entry_is_detected(payloads: list[dict[str, Any]], data: st.DataObject) -> None:
    entries, sender_head = build_transcript(payloads)
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    tampered = entries[:index] + entries[index + 1 :]

    assert not undetected(tampered, sender_head)
    verdicts, receiver = feed(tampered)
    if index + 1 < len(entries):
        assert verdicts[-1] == Gap(index + 1)
    else:
        assert receiver.seq == len(entries) - 1


@settings(max_examples=80)
@given(st.lists(payloads, min_size=2, max_size=8), st.data())
def test_a_swap_is_detected(payloads: list[dict[str, Any]], data: st.DataObject) -> None:
    entries, sender_head = build_transcript(payloads)
    i = data.draw(st.integers(0, len(entries) - 2), label="i")
    j = data.draw(st.integers(i + 1, len(entries) - 1), label="j")
    tampered = list(entries)
    tampered[i], tampered[j] = tampered[j], tampered[i]

    assert not undetected(tampered, sender_head)
    verdicts, _ = feed(tampered)
    assert verdicts[-1] == Gap(i + 1)


@settings(max_examples=50)
@given(payload_lists, payload_lists, st.data())
def test_a_spliced_transcript_is_detected(
    payloads: list[dict[str, Any]], others: list[dict[str, Any]], data: st.DataObject
) -> None:
    """An entry from another transcript with the same seq (e.g. another session's) does not fit."""
    entries, sender_head = build_transcript(payloads)
    foreign, _ = build_transcript(others)
    index = data.draw(st.integers(0, min(len(entries), len(foreign)) - 1), label="index")
    if _fields(foreign[index]) == _fields(entries[index]):
        return  # hypothesis drew the same entry twice: nothing was spliced
    tampered = [*entries[:index], foreign[index], *entries[index + 1 :]]
    assert not undetected(tampered, sender_head)


# -- differential: fast receiver against the slow model


@st.composite
def deliveries(draw: st.DrawFn) -> list[Entry]:
    """A messy delivery schedule: resends, skips, reorders and the odd altered or foreign entry."""
    entries, _ = build_transcript(draw(payload_lists))
    schedule: list[Entry] = []
    cursor = 0  # mostly deliver in order, so that the schedule gets past the first entry
    for _ in range(draw(st.integers(0, 20))):
        if draw(st.integers(0, 3)) and cursor < len(entries):
            entry, cursor = entries[cursor], cursor + 1
        else:
            entry = draw(st.sampled_from(entries))
        fault = draw(st.sampled_from(["none", "none", "none", "field", "chain", "seq"]))
        if fault != "none":
            fields = _fields(entry)
            name = {"field": draw(st.sampled_from(_FIELD_ORDER[1:])), "chain": "chain", "seq": "seq"}[fault]
            fields[name] = draw(
                {
                    "seq": st.integers(1, len(entries) + 2),
                    **_payload_values(8),
                    "chain": st.binary(min_size=CHAIN_LEN, max_size=CHAIN_LEN),
                }[name]
            )
            entry = Entry(**fields)
        schedule.append(entry)
    return schedule


@settings(max_examples=150)
@given(deliveries())
def test_classify_agrees_with_the_slow_model(schedule: list[Entry]) -> None:
    fast, slow = FastReceiver(), SlowReceiver()
    for entry in schedule:
        assert fast.receive(entry) == slow.receive(entry)
        assert fast.seq == len(slow.accepted)
        assert fast.head == slow.head
