"""The delivery machine (hotline.proto.transcript.Transcript), one transition at a time.

Each test names its scenario; ``now`` is a plain number and every output is asserted exactly
(style.md §6). Chains are built with hotline.proto.delivery, whose own tests cover the hashing.
"""

from __future__ import annotations

import msgspec
import pytest

from hotline.proto.constants import RESEND_BATCH, WINDOW
from hotline.proto.delivery import Accept, ChainMismatch, Gap, chain_next, chain_start, entry_chain
from hotline.proto.errors import LocalProtocolError
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, Receipt
from hotline.proto.suites import CNSA2, STANDARD, Suite
from hotline.proto.transcript import Transcript
from hotline.proto.transcriptio import (
    Broken,
    LineUp,
    LinkState,
    MarkDelivered,
    NumberQueued,
    PeerSentFewer,
    ReadChain,
    ReadSent,
    Receipted,
    Send,
    StoreEntries,
    Why,
)

US = b"\x01" * 32
PEER = b"\x02" * 32
OUT0 = chain_start(US, PEER)
IN0 = chain_start(PEER, US)
NOW = 1_000.0


def chain(start: bytes, count: int, *, first_id: int = 0, suite: Suite = STANDARD) -> list[Entry]:
    """``count`` entries of one transcript from ``start`` on a line of profile ``suite``, as the
    sender numbers them."""
    entries, head = [], start
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "id": (first_id + seq).to_bytes(10, "big"),
            "kind": int(Kind.TEXT),
            "precedence": int(Precedence.ROUTINE),
            "created_ms": seq,
            "ref": b"",
            "body": b"m%d" % seq,
        }
        head = chain_next(head, suite=suite, **fields)
        entries.append(Entry(chain=head, **fields))
    return entries


OURS = chain(OUT0, 5, first_id=100)
THEIRS = chain(IN0, 5, first_id=200)


def fresh(*, out: int = 0, inbound: int = 0, delivered: int = 0) -> Transcript:
    """A machine as the station builds it from a store holding ``inbound`` of the peer's entries and
    ``out`` numbered ones of ours."""
    in_head = THEIRS[inbound - 1].chain if inbound else IN0
    out_head = OURS[out - 1].chain if out else OUT0
    return Transcript(
        inbound=(inbound, in_head), outbound=(out, out_head), chain_out0=OUT0, delivered_upto=delivered
    )


def up(t: Transcript, *, received: int = 0) -> int:
    """Start a session and let the peer's Hello (holding ``received`` of ours) check out."""
    session = t.session_started()
    head = OURS[received - 1].chain if received else OUT0
    t.hello_received(Hello(received, head, 0), NOW)
    if t.state is LinkState.CHECK_HELLO:
        t.chain_read(session, head, NOW)
    t.pop_outputs()
    assert t.state is LinkState.UP
    return session


# -- sessions and Hello


def test_session_start_sends_hello_with_what_is_on_disk() -> None:
    """Accepted-but-unstored entries are not claimed: the Hello names the committed position."""
    t = fresh(out=2, inbound=1)
    t.entry_received(THEIRS[1])  # accepted, being stored
    t.pop_outputs()
    assert t.session_started() == 1
    assert t.pop_outputs() == [Send(Hello(1, THEIRS[0].chain, 2))]
    assert t.state is LinkState.AWAIT_HELLO


def test_hello_at_zero_checks_from_memory_and_brings_the_line_up() -> None:
    t = fresh()
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(0, OUT0, 0), NOW)
    assert t.pop_outputs() == [LineUp(s, 0)]
    assert t.state is LinkState.UP and t.cursor == 0 and t.peer_seq == 0


def test_hello_beyond_what_we_sent_means_our_store_was_rolled_back() -> None:
    t = fresh(out=2)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(3, b"\x00" * 32, 0), NOW)
    assert t.pop_outputs() == [Broken(s, Why.ROLLED_BACK, 3, 2)]
    assert t.state is LinkState.BROKEN


def test_hello_for_an_old_entry_reads_the_head_from_the_store() -> None:
    """After a restart nothing is in flight: the head at 2 comes from the store (ReadChain)."""
    t = fresh(out=3, delivered=1)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(2, OURS[1].chain, 0), NOW)
    assert t.pop_outputs() == [ReadChain(s, 2)]
    assert t.state is LinkState.CHECK_HELLO
    assert t.poll_sender(s) is None  # nothing flows before the check
    t.chain_read(s, OURS[1].chain, NOW + 1)
    assert t.pop_outputs() == [Receipted((), NOW + 1), MarkDelivered(1, 2), LineUp(s, 2)]
    assert t.peer_seq == 2 and t.receipted_at == NOW + 1 and t.cursor == 2
    # the one entry after the peer's position is resent from the store
    assert t.poll_sender(s) == ReadSent(s, 2, RESEND_BATCH)


def test_hello_with_another_head_breaks_the_session() -> None:
    t = fresh(out=3)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(2, b"\x09" * 32, 0), NOW)
    t.pop_outputs()
    t.chain_read(s, OURS[1].chain, NOW)
    assert t.pop_outputs() == [Broken(s, Why.HELLO_MISMATCH, 2)]


def test_hello_head_at_zero_checked_in_memory() -> None:
    t = fresh(out=1)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(0, b"\x09" * 32, 0), NOW)
    assert t.pop_outputs() == [Broken(s, Why.HELLO_MISMATCH, 0)]


def test_hello_for_an_entry_missing_from_our_store_breaks() -> None:
    t = fresh(out=3)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(2, OURS[1].chain, 0), NOW)
    t.pop_outputs()
    t.chain_read(s, None, NOW)
    assert t.pop_outputs() == [Broken(s, Why.HELLO_MISMATCH, 2)]


def test_peer_that_claims_to_have_sent_fewer_than_we_hold_is_an_alert_only() -> None:
    t = fresh(inbound=3)
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(0, OUT0, 2), NOW)
    assert t.pop_outputs() == [PeerSentFewer(2, 3), LineUp(s, 0)]
    assert t.state is LinkState.UP


def test_a_result_for_an_older_session_is_dropped() -> None:
    t = fresh(out=3)
    old = t.session_started()
    t.hello_received(Hello(2, OURS[1].chain, 0), NOW)
    new = t.session_started()
    t.pop_outputs()
    t.chain_read(old, OURS[1].chain, NOW)
    assert t.pop_outputs() == [] and t.state is LinkState.AWAIT_HELLO
    assert new == old + 1


def test_hello_while_down_is_a_local_error_and_input_of_a_broken_session_is_ignored() -> None:
    t = fresh()
    with pytest.raises(LocalProtocolError):
        t.hello_received(Hello(0, OUT0, 0), NOW)
    t.session_started()
    t.hello_received(Hello(1, OUT0, 0), NOW)  # rolled back: broken
    t.pop_outputs()
    t.hello_received(Hello(0, OUT0, 0), NOW)
    t.entry_received(THEIRS[0])
    t.receipt_received(Receipt(0, OUT0), NOW)
    assert t.pop_outputs() == [] and t.state is LinkState.BROKEN


# -- inbound


def test_accepted_entries_are_stored_in_batches_then_receipted() -> None:
    """The first entry goes to the store at once; those arriving meanwhile wait for the next batch."""
    t = fresh()
    up(t)
    t.entry_received(THEIRS[0])
    assert t.pop_outputs() == [StoreEntries((THEIRS[0],))]
    t.entry_received(THEIRS[1])
    t.entry_received(THEIRS[2])
    assert t.pop_outputs() == []
    assert (t.in_seq, t.committed_in) == (3, (0, IN0))
    t.entries_stored()
    assert t.pop_outputs() == [
        Send(Receipt(1, THEIRS[0].chain), flush=True),
        StoreEntries((THEIRS[1], THEIRS[2])),
    ]
    t.entries_stored()
    assert t.pop_outputs() == [Send(Receipt(3, THEIRS[2].chain), flush=True)]
    assert t.committed_in == (3, THEIRS[2].chain)


def test_duplicate_costs_one_receipt_of_what_is_on_disk() -> None:
    t = fresh(inbound=2)
    up(t)
    t.entry_received(THEIRS[0])
    t.entry_received(THEIRS[1])
    assert t.pop_outputs() == [StoreEntries(())]
    t.entries_stored()
    assert t.pop_outputs() == [Send(Receipt(2, THEIRS[1].chain), flush=True)]


def test_duplicate_while_storing_gets_a_receipt_after_the_batch() -> None:
    t = fresh(inbound=1)
    up(t)
    t.entry_received(THEIRS[1])
    t.entry_received(THEIRS[0])  # a resend of what we hold
    assert t.pop_outputs() == [StoreEntries((THEIRS[1],))]
    t.entries_stored()
    assert t.pop_outputs() == [Send(Receipt(2, THEIRS[1].chain), flush=True), StoreEntries(())]
    t.entries_stored()
    assert t.pop_outputs() == [Send(Receipt(2, THEIRS[1].chain), flush=True)]


def test_duplicate_then_new_entry_share_one_receipt() -> None:
    t = fresh(inbound=1)
    up(t)
    t.entry_received(THEIRS[0])
    t.entry_received(THEIRS[1])
    assert t.pop_outputs() == [StoreEntries(())]
    t.entries_stored()
    assert t.pop_outputs() == [StoreEntries((THEIRS[1],))]
    t.entries_stored()
    assert t.pop_outputs() == [Send(Receipt(2, THEIRS[1].chain), flush=True)]


def test_gap_breaks_the_session() -> None:
    t = fresh()
    s = up(t)
    t.entry_received(THEIRS[2])
    assert t.pop_outputs() == [Broken(s, Why.GAP, 3, 1)]
    assert t.state is LinkState.BROKEN and t.in_seq == 0


def test_chain_mismatch_breaks_the_session() -> None:
    t = fresh()
    s = up(t)
    altered = Entry(1, THEIRS[0].id, 0, 3, 1, b"", b"other", THEIRS[0].chain)
    t.entry_received(altered)
    assert t.pop_outputs() == [Broken(s, Why.CHAIN, 1)]


def test_verdict_asked_first_is_applied_as_given() -> None:
    """The station asks, lets its quotas look at an Accept, and passes the same verdict on."""
    t = fresh()
    up(t)
    verdict = t.verdict(THEIRS[0])
    assert verdict == Accept(THEIRS[0].chain)
    assert t.pop_outputs() == [] and t.in_seq == 0  # asking changes nothing
    t.entry_received(THEIRS[0], verdict)
    assert t.pop_outputs() == [StoreEntries((THEIRS[0],))]
    assert t.verdict(THEIRS[2]) == Gap(2)


def test_entries_are_taken_before_the_peer_hello() -> None:
    t = fresh()
    t.session_started()
    t.pop_outputs()
    t.entry_received(THEIRS[0])
    assert t.pop_outputs() == [StoreEntries((THEIRS[0],))]


def test_store_failure_forgets_what_was_not_stored_and_breaks() -> None:
    t = fresh(inbound=1)
    s = up(t)
    t.entry_received(THEIRS[1])
    t.entry_received(THEIRS[2])
    t.pop_outputs()
    t.entries_not_stored()
    assert t.pop_outputs() == [Broken(s, Why.STORE_FAILED, 1)]
    assert (t.in_seq, t.in_head) == (1, THEIRS[0].chain)
    # the next session starts from what is on disk; the peer resends
    s2 = t.session_started()
    assert t.pop_outputs() == [Send(Hello(1, THEIRS[0].chain, 0))]
    t.entry_received(THEIRS[1])
    assert t.pop_outputs() == [StoreEntries((THEIRS[1],))]
    assert s2 == s + 1


def test_store_result_after_the_session_ended_sends_no_receipt() -> None:
    t = fresh()
    up(t)
    t.entry_received(THEIRS[0])
    t.pop_outputs()
    t.session_ended()
    t.entries_stored()
    assert t.pop_outputs() == [] and t.committed_in == (1, THEIRS[0].chain)
    with pytest.raises(LocalProtocolError):
        t.entries_stored()


# -- receipts


def test_receipt_delivers_in_flight_entries_and_marks_them() -> None:
    t = fresh()
    s = up(t)
    t.numbered(s, OURS[:3], WINDOW)
    t.pop_outputs()
    t.receipt_received(Receipt(2, OURS[1].chain), NOW + 5)
    assert t.pop_outputs() == [Receipted((OURS[0].id, OURS[1].id), NOW + 5), MarkDelivered(0, 2)]
    assert (t.peer_seq, t.receipted_at) == (2, NOW + 5)
    # a receipt while the mark is out waits for it
    t.receipt_received(Receipt(3, OURS[2].chain), NOW + 6)
    assert t.pop_outputs() == [Receipted((OURS[2].id,), NOW + 6)]
    t.marked(2, [OURS[0].id, OURS[1].id], NOW + 7)
    assert t.pop_outputs() == [Receipted((OURS[0].id, OURS[1].id), NOW + 7), MarkDelivered(2, 3)]
    t.marked(3, [OURS[2].id], NOW + 8)
    assert t.pop_outputs() == [Receipted((OURS[2].id,), NOW + 8)]


def test_old_receipt_is_ignored() -> None:
    t = fresh(out=3)
    up(t, received=2)
    t.receipt_received(Receipt(1, OURS[0].chain), NOW)
    assert t.pop_outputs() == [] and t.peer_seq == 2


def test_receipt_for_an_entry_never_sent_breaks() -> None:
    t = fresh(out=2)
    s = up(t)
    t.receipt_received(Receipt(3, OURS[2].chain), NOW)
    assert t.pop_outputs() == [Broken(s, Why.RECEIPT_BEYOND, 3, 2)]


def test_receipt_with_another_head_breaks() -> None:
    t = fresh()
    s = up(t)
    t.numbered(s, OURS[:2], 5)
    t.pop_outputs()
    t.receipt_received(Receipt(2, OURS[0].chain), NOW)
    assert t.pop_outputs() == [Broken(s, Why.RECEIPT_MISMATCH, 2)]


def test_receipt_for_a_sent_entry_no_longer_in_memory_is_taken_unchecked() -> None:
    """Entries numbered before a restart are not in flight here: their heads were checked by the
    Hello, and the store holds them, so the receipt counts as it is."""
    t = fresh(out=3)
    up(t)
    t.receipt_received(Receipt(3, b"\x07" * 32), NOW)
    assert t.pop_outputs() == [Receipted((), NOW), MarkDelivered(0, 3)]
    t.marking_failed()
    t.receipt_received(Receipt(3, b"\x07" * 32), NOW + 1)
    assert t.pop_outputs() == []  # nothing new: the next newer receipt marks again


# -- the sender


def test_sender_resends_after_a_restart_from_the_peer_position() -> None:
    """Session restart: the peer holds 1 of our 3; the sender reads 2 and 3 back and sends them."""
    t = fresh(out=3)
    t.session_started()
    t.session_ended()
    s = up(t, received=1)
    t.pop_outputs()
    assert t.poll_sender(s) == ReadSent(s, 1, RESEND_BATCH)
    assert t.poll_sender(s) is None  # one read at a time
    t.sent_read(s, OURS[1:3])
    assert t.pop_outputs() == [Send(OURS[1]), Send(OURS[2])]
    assert t.cursor == 3
    assert t.poll_sender(s) == NumberQueued(s, WINDOW - 2)  # the peer holds 1


def test_a_read_overtaken_by_a_rewind_sends_nothing_out_of_order() -> None:
    """The peer holds 1 of our 3; while the read of 2 and 3 runs, the peer says Hello again holding
    none (a peer may send it twice). Sending 2 and 3 then would skip entry 1 on the wire: the read's
    result is dropped and the next poll reads again from the new cursor."""
    t = fresh(out=3)
    s = up(t, received=1)
    assert t.poll_sender(s) == ReadSent(s, 1, RESEND_BATCH)
    t.hello_received(Hello(0, OUT0, 0), NOW)
    t.pop_outputs()
    assert t.cursor == 0
    t.sent_read(s, OURS[1:3])
    assert t.pop_outputs() == []
    assert t.poll_sender(s) == ReadSent(s, 0, RESEND_BATCH)
    t.sent_read(s, OURS[0:3])
    assert t.pop_outputs() == [Send(OURS[0]), Send(OURS[1]), Send(OURS[2])]
    assert t.cursor == 3


def test_sender_numbers_queued_entries_and_sends_them_in_order() -> None:
    t = fresh()
    s = up(t)
    assert t.poll_sender(s) == NumberQueued(s, WINDOW)
    assert t.poll_sender(s) is None  # one numbering at a time, and nothing known queued
    t.numbered(s, OURS[:2], WINDOW)
    assert t.pop_outputs() == [Send(OURS[0]), Send(OURS[1])]
    assert (t.out_seq, t.out_head, t.cursor) == (2, OURS[1].chain, 2)
    assert t.poll_sender(s) is None  # fewer than asked for: the queue is empty
    t.queued()
    assert t.poll_sender(s) == NumberQueued(s, WINDOW - 2)


def test_window_full_stops_numbering_until_a_receipt() -> None:
    t = fresh()
    s = up(t)
    assert t.poll_sender(s) == NumberQueued(s, WINDOW)
    full = [Entry(n, n.to_bytes(10, "big"), 0, 3, 0, b"", b"", bytes(32)) for n in range(1, WINDOW + 1)]
    t.numbered(s, full, WINDOW)
    t.pop_outputs()
    assert t.room == 0
    assert t.poll_sender(s) is None  # full, though more may wait behind
    t.receipt_received(Receipt(1, bytes(32)), NOW)
    assert t.poll_sender(s) == NumberQueued(s, 1)


def test_numbering_for_a_gone_session_still_counts() -> None:
    t = fresh()
    old = up(t)
    assert t.poll_sender(old) == NumberQueued(old, WINDOW)
    new = t.session_started()
    t.numbered(old, OURS[:2], WINDOW)
    assert t.pop_outputs() == [Send(Hello(0, IN0, 0))]  # only the new Hello: nothing sent on the old
    assert t.out_seq == 2
    t.hello_received(Hello(0, OUT0, 0), NOW)
    t.pop_outputs()
    assert t.poll_sender(new) == ReadSent(new, 0, RESEND_BATCH)


def test_numbering_behind_another_is_resent_from_the_store() -> None:
    t = fresh()
    s = up(t)
    t.poll_sender(s)
    t.numbered_now(OURS[0], held=True)  # the operator's own numbering landed first, not sent
    t.numbered(s, OURS[1:3], WINDOW)
    assert t.pop_outputs() == []
    assert t.poll_sender(s) == ReadSent(s, 0, RESEND_BATCH)


def test_numbering_failure_leaves_entries_queued() -> None:
    t = fresh()
    s = up(t)
    t.poll_sender(s)
    t.numbering_failed()
    assert t.poll_sender(s) == NumberQueued(s, WINDOW)


def test_numbered_now_is_sent_at_once_when_next_and_alone() -> None:
    t = fresh()
    up(t)
    assert t.numbered_now(OURS[0], held=False) is True
    assert t.pop_outputs() == [Send(OURS[0], flush=True)]
    assert t.numbered_now(OURS[1], held=False) is True
    assert t.pop_outputs() == [Send(OURS[1], flush=False)]  # two in flight: records fill up
    assert t.numbered_now(OURS[3], held=False) is False  # not next: the sender resends in order
    assert t.pop_outputs() == [] and t.out_seq == 4


def test_numbered_now_waits_while_held_or_down() -> None:
    t = fresh()
    assert t.numbered_now(OURS[0], held=False) is False
    up(t)
    assert t.numbered_now(OURS[1], held=True) is False
    assert t.pop_outputs() == [] and t.out_seq == 2


def test_rewind_resends_from_the_held_position() -> None:
    """§10.3: the peer withholds after 1; the sender goes back there."""
    t = fresh()
    s = up(t)
    t.poll_sender(s)
    t.numbered(s, OURS[:3], WINDOW)
    t.pop_outputs()
    t.rewind(s, 1)
    assert t.cursor == 1
    assert t.poll_sender(s) == ReadSent(s, 1, RESEND_BATCH)
    t.rewind(s + 1, 0)  # another session's: ignored
    assert t.cursor == 1


def test_sent_read_for_an_old_session_is_dropped() -> None:
    t = fresh(out=2)
    old = up(t)
    t.poll_sender(old)
    new = t.session_started()
    t.pop_outputs()
    t.sent_read(old, OURS[:2])
    assert t.pop_outputs() == []
    t.hello_received(Hello(0, OUT0, 0), NOW)
    t.pop_outputs()
    assert t.poll_sender(new) == ReadSent(new, 0, RESEND_BATCH)


# -- a new profile (a key change, no session)

OUT0_CNSA2 = chain_start(US, PEER, CNSA2)
IN0_CNSA2 = chain_start(PEER, US, CNSA2)


def test_new_profile_on_an_empty_line_starts_both_chains_again() -> None:
    """No entry either way: both directions start from the new profile's start and chain under its
    hash; it is pure (no output)."""
    t = fresh()
    t.follow_profile(CNSA2, OUT0_CNSA2, IN0_CNSA2)
    assert t.pop_outputs() == []
    assert t.suite is CNSA2
    assert (t.chain_out0, t.out_head) == (OUT0_CNSA2, OUT0_CNSA2)
    assert (t.in_seq, t.in_head, t.committed_in) == (0, IN0_CNSA2, (0, IN0_CNSA2))
    s = t.session_started()
    assert t.pop_outputs() == [Send(Hello(0, IN0_CNSA2, 0))]
    t.hello_received(Hello(0, OUT0, 0), NOW)  # the old start is not ours any more
    assert t.pop_outputs() == [Broken(s, Why.HELLO_MISMATCH, 0)]
    s = t.session_started()
    t.pop_outputs()
    t.hello_received(Hello(0, OUT0_CNSA2, 0), NOW)
    assert t.pop_outputs() == [LineUp(s, 0)]
    theirs = chain(IN0_CNSA2, 2, first_id=200, suite=CNSA2)
    assert t.verdict(THEIRS[0]) == ChainMismatch(theirs[0].chain)  # the old profile's chain
    t.entry_received(theirs[0])
    assert t.pop_outputs() == [StoreEntries((theirs[0],))]


def test_new_profile_keeps_a_transcript_under_way_and_chains_on_under_the_new_hash() -> None:
    t = fresh(out=2, inbound=1)
    t.follow_profile(CNSA2, OUT0_CNSA2, IN0_CNSA2)
    assert t.pop_outputs() == []
    assert t.suite is CNSA2
    assert (t.chain_out0, t.out_seq, t.out_head) == (OUT0, 2, OURS[1].chain)
    assert (t.in_seq, t.in_head, t.committed_in) == (1, THEIRS[0].chain, (1, THEIRS[0].chain))
    # the peer's next entry extends its head under the new profile's hash, not the old one's
    after = entry_chain(THEIRS[0].chain, THEIRS[1], CNSA2)
    assert t.verdict(THEIRS[1]) == ChainMismatch(after)
    assert t.verdict(msgspec.structs.replace(THEIRS[1], chain=after)) == Accept(after)


def test_new_profile_keeps_a_peer_transcript_still_being_stored() -> None:
    """An accepted entry not yet on disk is under way too: its start stays."""
    t = fresh()
    t.entry_received(THEIRS[0])
    t.pop_outputs()
    t.follow_profile(CNSA2, OUT0_CNSA2, IN0_CNSA2)
    assert (t.in_seq, t.in_head, t.committed_in) == (1, THEIRS[0].chain, (0, IN0))
    assert (t.chain_out0, t.out_head) == (OUT0_CNSA2, OUT0_CNSA2)
