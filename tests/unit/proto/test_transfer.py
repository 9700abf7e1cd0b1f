"""The document transfer machines (docs/protocol.md §13, docs/state-machines/transfer.md), one
transition at a time. Time is a number: pauses start at an exact ``now`` and end at ``now + 5``."""

from __future__ import annotations

import pytest

from hotline.proto.constants import DOC_CHUNK, DOC_RETRY_PAUSED, DOC_SYNC_EVERY, DOC_TAKEN_EVERY, DOC_WINDOW
from hotline.proto.document import DocState
from hotline.proto.linemsg import DocProgress
from hotline.proto.transfer import (
    Completed,
    DataVerdict,
    Failed,
    FailReason,
    Heard,
    Paused,
    Receiver,
    ReceiverState,
    Record,
    RecordComplete,
    Reopen,
    Send,
    Sender,
    Write,
    WriteCadence,
)

DOC = b"d" * 16
MiB = 2**20


def said(stored: int, state: DocState) -> Send:
    return Send(DocProgress(DOC, stored, state))


# -- the sender


def test_a_new_sender_asks_where_the_receiver_stands_and_sends_nothing_unasked() -> None:
    sender = Sender(10 * MiB, stored=3 * MiB)
    assert sender.session_started(DOC) == DocProgress(DOC, 3 * MiB, DocState.WHERE)
    assert sender.want is None and sender.next_chunk() is None


def test_a_request_sets_where_to_send_from_and_the_window() -> None:
    sender = Sender(10 * MiB)
    assert sender.progress(2 * MiB, DocState.RECEIVING) == Heard(2 * MiB, DocState.RECEIVING, requested=True)
    assert (sender.want, sender.taken, sender.stored) == (2 * MiB, 2 * MiB, 2 * MiB)
    assert sender.next_chunk() == (2 * MiB, DOC_CHUNK)


def test_the_sender_stops_at_the_window_and_a_taken_report_opens_it() -> None:
    sender = Sender(100 * MiB)
    sender.progress(0, DocState.RECEIVING)
    sent = 0
    while (chunk := sender.next_chunk()) is not None:
        sender.chunk_sent(*chunk)
        sent += chunk[1]
    assert sent == DOC_WINDOW and sender.window_full
    # a taken report while streaming is progress, not a request: the window moves, want stays
    heard = sender.progress(DOC_TAKEN_EVERY, DocState.RECEIVING)
    assert heard is not None and not heard.requested
    assert sender.want == DOC_WINDOW and sender.taken == DOC_TAKEN_EVERY
    assert sender.next_chunk() == (DOC_WINDOW, DOC_CHUNK)


def test_a_report_ahead_of_where_the_sender_is_is_a_request_from_there() -> None:
    sender = Sender(100 * MiB)
    sender.progress(0, DocState.RECEIVING)
    sender.chunk_sent(0, DOC_CHUNK)
    heard = sender.progress(5 * MiB, DocState.RECEIVING)
    assert heard is not None and heard.requested and sender.want == sender.taken == 5 * MiB


def test_after_the_last_byte_reports_are_progress_until_a_pause_or_a_new_session() -> None:
    sender = Sender(DOC_CHUNK + 10)
    sender.progress(0, DocState.RECEIVING)
    sender.chunk_sent(0, DOC_CHUNK)
    assert sender.next_chunk() == (DOC_CHUNK, 10)
    sender.chunk_sent(DOC_CHUNK, 10)
    assert sender.finished and sender.want is None
    heard = sender.progress(DOC_CHUNK, DocState.RECEIVING)
    assert heard is not None and not heard.requested and sender.want is None
    sender.progress(DOC_CHUNK, DocState.PAUSED)
    assert not sender.finished and sender.want is None
    heard = sender.progress(DOC_CHUNK, DocState.RECEIVING)
    assert heard is not None and heard.requested and sender.next_chunk() == (DOC_CHUNK, 10)
    sender.chunk_sent(DOC_CHUNK, 10)
    sender.session_ended()
    assert not sender.finished and sender.want is None


def test_pause_complete_failed_and_nonsense() -> None:
    sender = Sender(10 * MiB)
    assert sender.progress(11 * MiB, DocState.RECEIVING) is None  # past the size: ignored
    assert sender.progress(0, DocState.WHERE) is None  # the sender's own question: not for it
    sender.progress(0, DocState.RECEIVING)
    assert sender.progress(MiB, DocState.PAUSED) == Heard(MiB, DocState.PAUSED, requested=False)
    assert sender.want is None and sender.stored == MiB
    assert sender.progress(4, DocState.COMPLETE) == Heard(4, DocState.COMPLETE, requested=False)
    assert sender.ended and sender.stored == 10 * MiB
    assert sender.progress(0, DocState.RECEIVING) is None  # ended: nothing more
    failing = Sender(10 * MiB)
    failing.progress(0, DocState.RECEIVING)
    assert failing.progress(0, DocState.FAILED) is not None and failing.ended and failing.want is None


def test_giving_up_stops_sending() -> None:
    sender = Sender(10 * MiB)
    sender.progress(0, DocState.RECEIVING)
    sender.give_up()
    assert sender.next_chunk() is None


def test_an_empty_document_sends_no_chunk() -> None:
    sender = Sender(0)
    sender.progress(0, DocState.RECEIVING)
    assert sender.next_chunk() is None


# -- the receiver


def receiving(size: int = 10 * MiB, durable: int = 0) -> Receiver:
    receiver = Receiver(DOC, size, durable)
    assert receiver.ask() == [said(durable, DocState.RECEIVING)]
    return receiver


def test_a_receiver_takes_only_what_it_asked_for_at_exactly_the_offset_it_expects() -> None:
    idle = Receiver(DOC, 10 * MiB)
    assert idle.state is ReceiverState.IDLE
    assert idle.data(0, DOC_CHUNK) == (DataVerdict.IGNORED, [])  # not asked yet
    receiver = receiving()
    assert receiver.data(DOC_CHUNK, DOC_CHUNK) == (DataVerdict.IGNORED, [])  # not the expected offset
    assert receiver.data(0, DOC_CHUNK) == (DataVerdict.TAKE, [])
    assert receiver.expected == 0  # nothing moves before accept
    data = b"x" * DOC_CHUNK
    assert receiver.accept(0, data) == [Write(0, data)]
    assert receiver.expected == DOC_CHUNK
    assert receiver.data(0, DOC_CHUNK) == (DataVerdict.IGNORED, [])  # a duplicate


def test_bytes_past_the_size_fail_the_document() -> None:
    receiver = receiving(size=DOC_CHUNK + 5)
    receiver.accept(0, b"x" * DOC_CHUNK)
    verdict, actions = receiver.data(DOC_CHUNK, DOC_CHUNK)
    assert verdict is DataVerdict.FAILED
    assert actions == [said(0, DocState.FAILED), Failed(FailReason.OVERSIZE, DOC_CHUNK)]
    assert receiver.state is ReceiverState.FAILED and receiver.ended
    assert receiver.ask() == [] and receiver.data(DOC_CHUNK, 5) == (DataVerdict.IGNORED, [])


def test_a_short_chunk_before_the_last_fails_the_document() -> None:
    receiver = receiving(size=3 * DOC_CHUNK)
    verdict, actions = receiver.data(0, 100)
    assert verdict is DataVerdict.FAILED and actions[-1] == Failed(FailReason.SHORT_CHUNK, 0)


def test_the_last_chunk_may_be_short() -> None:
    receiver = receiving(size=DOC_CHUNK + 7)
    receiver.accept(0, b"x" * DOC_CHUNK)
    assert receiver.data(DOC_CHUNK, 7) == (DataVerdict.TAKE, [])


def test_taken_and_durable_reports_go_out_only_while_receiving() -> None:
    receiver = receiving()
    assert receiver.taken(MiB) == [said(MiB, DocState.RECEIVING)]
    assert receiver.synced(2 * MiB) == [Record(2 * MiB)]
    assert receiver.recorded(2 * MiB) == [said(2 * MiB, DocState.RECEIVING)]
    assert receiver.durable == 2 * MiB
    assert receiver.recorded(MiB) == [said(2 * MiB, DocState.RECEIVING)]  # never backwards
    receiver.pause(now=100.0)
    assert receiver.taken(3 * MiB) == []
    assert receiver.synced(3 * MiB) == [Record(3 * MiB)]  # still recorded while paused
    assert receiver.recorded(3 * MiB) == [] and receiver.durable == 3 * MiB


def test_a_pause_says_where_the_receiver_stands_and_ends_after_five_seconds() -> None:
    """Paused at now = 100.0: the timer is 105.0 exactly; before it nothing happens, at it the
    receiver asks again from where it stands."""
    receiver = receiving()
    receiver.accept(0, b"x" * DOC_CHUNK)
    assert receiver.get_timer() is None
    assert receiver.pause(now=100.0) == [said(DOC_CHUNK, DocState.PAUSED), Paused()]
    assert receiver.state is ReceiverState.PAUSED
    assert receiver.get_timer() == 100.0 + DOC_RETRY_PAUSED == 105.0
    assert receiver.pause(now=101.0) == []  # already paused: the timer stays
    assert receiver.get_timer() == 105.0
    assert receiver.data(DOC_CHUNK, DOC_CHUNK) == (DataVerdict.IGNORED, [])  # sent before it heard
    assert receiver.handle_timer(104.999) == []
    assert receiver.handle_timer(105.0) == [said(DOC_CHUNK, DocState.RECEIVING)]
    assert receiver.state is ReceiverState.RECEIVING and receiver.get_timer() is None
    assert receiver.handle_timer(200.0) == []


def test_asking_during_a_pause_ends_it_and_its_timer() -> None:
    receiver = receiving()
    receiver.pause(now=7.0)
    assert receiver.ask() == [said(0, DocState.RECEIVING)]
    assert receiver.get_timer() is None


def test_a_failed_write_goes_back_to_the_chunk_that_failed() -> None:
    receiver = receiving()
    for offset in range(0, 3 * DOC_CHUNK, DOC_CHUNK):
        receiver.accept(offset, b"x" * DOC_CHUNK)
    actions = receiver.write_failed(DOC_CHUNK, now=50.0)
    assert actions == [said(DOC_CHUNK, DocState.PAUSED), Paused()]
    assert receiver.expected == DOC_CHUNK and receiver.get_timer() == 55.0
    assert receiver.handle_timer(55.0) == [said(DOC_CHUNK, DocState.RECEIVING)]


def test_a_failed_fsync_reopens_from_what_is_durable() -> None:
    receiver = receiving()
    receiver.recorded(2 * MiB)
    receiver.expected = 3 * MiB
    assert receiver.sync_failed(now=10.0) == [said(3 * MiB, DocState.PAUSED), Paused()]
    assert receiver.stale
    assert receiver.handle_timer(15.0) == [Reopen()]
    fresh = receiver.resumed()
    assert (fresh.expected, fresh.durable, fresh.stale, fresh.state) == (
        2 * MiB,
        2 * MiB,
        False,
        ReceiverState.IDLE,
    )
    assert fresh.ask() == [said(2 * MiB, DocState.RECEIVING)]


def test_a_matching_hash_finishes_and_completes_once_recorded() -> None:
    receiver = receiving(size=5)
    receiver.accept(0, b"hello")
    assert receiver.checked(True) == [RecordComplete()]
    assert receiver.state is ReceiverState.FINISHING and receiver.ended
    assert receiver.taken(5) == [] and receiver.synced(5) == []
    assert receiver.complete_recorded() == [said(5, DocState.COMPLETE), Completed()]
    assert receiver.state is ReceiverState.COMPLETE and receiver.durable == 5
    assert receiver.complete_recorded() == [] and receiver.checked(True) == []


def test_a_completion_the_store_could_not_record_pauses() -> None:
    receiver = receiving(size=5)
    receiver.accept(0, b"hello")
    receiver.checked(True)
    assert receiver.complete_failed(now=3.0) == [said(5, DocState.PAUSED), Paused()]
    assert receiver.get_timer() == 8.0
    assert receiver.handle_timer(8.0) == [said(5, DocState.RECEIVING)]


def test_a_hash_mismatch_fails_the_document() -> None:
    receiver = receiving(size=5)
    receiver.accept(0, b"hello")
    assert receiver.checked(False) == [said(0, DocState.FAILED), Failed(FailReason.HASH_MISMATCH)]
    assert receiver.state is ReceiverState.FAILED


@pytest.mark.parametrize("paused", [False, True])
def test_the_station_may_refuse_a_live_document(paused: bool) -> None:
    receiver = receiving()
    if paused:
        receiver.pause(now=0.0)
    assert receiver.fail() == [said(0, DocState.FAILED), Failed(FailReason.REFUSED)]
    assert receiver.fail() == []


def test_a_restarted_receiver_starts_from_what_is_durable() -> None:
    receiver = Receiver(DOC, 10 * MiB, durable=4 * MiB)
    assert (receiver.expected, receiver.durable) == (4 * MiB, 4 * MiB)
    assert receiver.ask() == [said(4 * MiB, DocState.RECEIVING)]


# -- the write cadence


def test_the_cadence_reports_taken_every_mib_and_syncs_every_32_mib_but_never_at_the_end() -> None:
    size = 40 * MiB
    cadence = WriteCadence(size)
    reports, syncs = [], []
    for offset in range(0, size, DOC_CHUNK):
        end = offset + DOC_CHUNK
        report, sync = cadence.written(end, DOC_CHUNK)
        if report:
            reports.append(end)
        if sync:
            syncs.append(end)
    assert reports == [k * DOC_TAKEN_EVERY for k in range(1, 40)]
    assert syncs == [DOC_SYNC_EVERY]


def test_the_cadence_takes_its_numbers_as_arguments() -> None:
    cadence = WriteCadence(100, taken_every=10, sync_every=30)
    results = [cadence.written(end, 10) for end in range(10, 101, 10)]
    assert [r for r, _ in results] == [True] * 9 + [False]
    assert [s for _, s in results] == [False, False, True, False, False, True, False, False, True, False]


def test_a_report_off_a_chunk_boundary_shortens_the_chunk_that_would_end_past_the_window() -> None:
    sender = Sender(18, chunk=4, window=16)
    sender.progress(0, DocState.RECEIVING)
    while (chunk := sender.next_chunk()) is not None:
        sender.chunk_sent(*chunk)
    assert sender.want == 16
    sender.progress(1, DocState.RECEIVING)
    assert sender.next_chunk() == (16, 1)  # ends at 17 = taken + window, not at 18
    sender.chunk_sent(16, 1)
    assert sender.next_chunk() is None
