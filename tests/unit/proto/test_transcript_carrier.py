"""The delivery machine in carrier mode (docs/protocol.md §14.3) and its pacing rules
(hotline.proto.pacing), one transition at a time."""

from __future__ import annotations

import pytest

from hotline.proto.carrier import FRAME_HEADER_LEN, Carrier, Lane
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.errors import LocalProtocolError
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, encode
from hotline.proto.messages import Data, encode_message
from hotline.proto.pacing import CARRIER_READ, LaneFacts, LanePacer, entry_lane, entry_size
from hotline.proto.transcript import Transcript
from hotline.proto.transcriptio import AwaitRoom, LinkState, NumberQueued, ReadSent, Send

US, PEER = b"\x01" * 32, b"\x02" * 32
OUT0, IN0 = chain_start(US, PEER), chain_start(PEER, US)
CELL = 1024
NOW = 5.0


def chain(precedences: list[Precedence], *, body: bytes = b"m") -> list[Entry]:
    entries, head = [], OUT0
    for seq, precedence in enumerate(precedences, 1):
        fields = {"seq": seq, "id": seq.to_bytes(10, "big"), "kind": int(Kind.TEXT),
                  "precedence": int(precedence), "created_ms": seq, "ref": b"", "body": body}  # fmt: skip
        head = chain_next(head, **fields)  # type: ignore[arg-type]
        entries.append(Entry(chain=head, **fields))  # type: ignore[arg-type]
    return entries


def facts(waiting: int = 0, frames: int = 0) -> LaneFacts:
    return LaneFacts(CELL, waiting, frames)


def carrier_up(
    *, out: int = 0, received: int = 0, entries: list[Entry] | None = None
) -> tuple[Transcript, int]:
    """A machine on a carrier session of 1024-byte cells, the peer's Hello checked."""
    entries = entries or []
    head = entries[out - 1].chain if out else OUT0
    t = Transcript(inbound=(0, IN0), outbound=(out, head), chain_out0=OUT0, delivered_upto=0)
    session = t.session_started(CELL)
    hello_head = entries[received - 1].chain if received else OUT0
    t.hello_received(Hello(received, hello_head, 0), NOW)
    if t.state is LinkState.CHECK_HELLO:
        t.chain_read(session, hello_head, NOW)
    t.pop_outputs()
    assert t.state is LinkState.UP
    return t, session


def sends(t: Transcript) -> list[tuple[int, Lane | None]]:
    return [
        (o.message.seq, o.lane)
        for o in t.pop_outputs()
        if isinstance(o, Send) and isinstance(o.message, Entry)
    ]


# -- the rules


def test_entry_size_is_the_framed_data_message() -> None:
    (entry,) = chain([Precedence.ROUTINE], body=b"x" * 300)
    assert entry_size(entry) == FRAME_HEADER_LEN + len(encode_message(Data(encode(entry))))
    carrier = Carrier(0.0, cell_size=CELL)
    carrier.offer(Lane.MESSAGES, encode_message(Data(encode(entry))))
    assert carrier.waiting(Lane.MESSAGES).bytes == entry_size(entry)


def test_a_flash_goes_in_flash_only_while_messages_holds_no_entry() -> None:
    flash, routine = chain([Precedence.FLASH, Precedence.ROUTINE])
    assert entry_lane(flash, 0) is Lane.FLASH
    assert entry_lane(flash, 1) is Lane.MESSAGES
    assert entry_lane(routine, 0) is Lane.MESSAGES


def test_the_pacer_counts_what_it_queues() -> None:
    flash, routine, flash2 = chain([Precedence.FLASH, Precedence.ROUTINE, Precedence.FLASH], body=b"x" * 400)
    pacer = LanePacer(facts())
    assert pacer.may_queue() and pacer.queue(flash) is Lane.FLASH
    assert pacer.may_queue() and pacer.queue(routine) is Lane.MESSAGES
    # a FLASH after an entry in MESSAGES goes behind it; and now more than a cell waits
    assert pacer.queue(flash2) is Lane.MESSAGES
    assert not pacer.may_queue()
    assert pacer.facts == LaneFacts(CELL, sum(map(entry_size, (flash, routine, flash2))), 2)


def test_facts_of_a_carrier_count_flash_and_messages() -> None:
    carrier = Carrier(0.0, cell_size=CELL)
    carrier.offer(Lane.CONTROL, b"c" * 50)
    carrier.offer(Lane.FLASH, b"f" * 10)
    carrier.offer(Lane.MESSAGES, b"m" * 20)
    carrier.offer(Lane.DOCUMENTS, b"d" * 30)
    assert LaneFacts.of(carrier.status()) == LaneFacts(CELL, 14 + 24, 1)


# -- the machine


def test_without_a_carrier_nothing_changes() -> None:
    t = Transcript(inbound=(0, IN0), outbound=(0, OUT0), chain_out0=OUT0, delivered_upto=0)
    session = t.session_started()
    t.hello_received(Hello(0, OUT0, 0), NOW)
    t.pop_outputs()
    assert t.poll_sender(session) == NumberQueued(session, t.room)


def test_a_carrier_sender_polls_with_its_lanes() -> None:
    t, session = carrier_up()
    with pytest.raises(LocalProtocolError):
        t.poll_sender(session)


def test_numbering_is_asked_with_the_lanes_and_only_while_less_than_a_cell_waits() -> None:
    t, session = carrier_up()
    assert t.poll_sender(session, facts(CELL)) == AwaitRoom()
    command = t.poll_sender(session, facts(CELL - 1, 3))
    assert command == NumberQueued(session, t.room, facts(CELL - 1, 3))


def test_numbered_entries_go_out_in_their_lanes() -> None:
    entries = chain([Precedence.FLASH, Precedence.FLASH, Precedence.ROUTINE])
    t, session = carrier_up()
    command = t.poll_sender(session, facts())
    assert isinstance(command, NumberQueued)
    t.numbered(session, entries, command.room, facts())
    assert sends(t) == [(1, Lane.FLASH), (2, Lane.FLASH), (3, Lane.MESSAGES)]
    assert t.cursor == 3 and t.out_seq == 3


def test_a_flash_numbered_behind_an_entry_in_messages_goes_in_messages() -> None:
    (flash,) = chain([Precedence.FLASH])
    t, session = carrier_up()
    command = t.poll_sender(session, facts(300, 1))
    assert isinstance(command, NumberQueued)
    t.numbered(session, [flash], command.room, facts(100, 1))  # partly sent: still an entry there
    assert sends(t) == [(1, Lane.MESSAGES)]


def test_what_the_lanes_do_not_take_waits_ahead_for_the_next_cells() -> None:
    entries = chain([Precedence.ROUTINE] * 5, body=b"x" * 400)
    t, session = carrier_up()
    command = t.poll_sender(session, facts())
    assert isinstance(command, NumberQueued)
    # the store numbered more than fit (the lanes filled meanwhile): the rest waits, in order
    t.numbered(session, entries, command.room, facts(), more=True)
    assert sends(t) == [(1, Lane.MESSAGES), (2, Lane.MESSAGES), (3, Lane.MESSAGES)]
    assert t.cursor == 3
    assert t.poll_sender(session, facts(CELL + 100, 2)) == AwaitRoom()
    assert sends(t) == []
    assert t.poll_sender(session, facts(600, 1)) == AwaitRoom()  # #4 goes; #5 still ahead
    assert sends(t) == [(4, Lane.MESSAGES)]
    command = t.poll_sender(session, facts(0, 0))
    assert sends(t) == [(5, Lane.MESSAGES)]
    assert command == NumberQueued(session, t.room, facts(entry_size(entries[4]), 1))  # `more`


def test_resends_are_read_a_few_at_a_time_and_paced() -> None:
    entries = chain([Precedence.ROUTINE, Precedence.FLASH, Precedence.ROUTINE], body=b"x" * 600)
    t, session = carrier_up(out=3, entries=entries)
    assert t.poll_sender(session, facts(CELL)) == AwaitRoom()
    command = t.poll_sender(session, facts())
    assert command == ReadSent(session, 0, CARRIER_READ)
    t.sent_read(session, entries, facts())
    # the FLASH follows a ROUTINE still in MESSAGES: it goes there too
    assert sends(t) == [(1, Lane.MESSAGES), (2, Lane.MESSAGES)]
    assert t.poll_sender(session, facts(CELL + 200, 2)) == AwaitRoom()
    # #3 goes, and the queue may hold more: numbering is asked with #3 counted
    command = t.poll_sender(session, facts(0, 0))
    assert sends(t) == [(3, Lane.MESSAGES)]
    assert command == NumberQueued(session, t.room, facts(entry_size(entries[2]), 1))


def test_a_rewind_or_a_new_session_forgets_what_waits_ahead() -> None:
    entries = chain([Precedence.ROUTINE] * 4, body=b"x" * 600)
    t, session = carrier_up(out=4, entries=entries)
    t.poll_sender(session, facts())
    t.sent_read(session, entries, facts())
    assert sends(t) == [(1, Lane.MESSAGES), (2, Lane.MESSAGES)]
    t.rewind(session, 1)
    assert t.poll_sender(session, facts()) == ReadSent(session, 1, CARRIER_READ)
    t.sent_read(session, entries[1:], facts())
    assert sends(t) == [(2, Lane.MESSAGES), (3, Lane.MESSAGES)]
    t.session_ended()
    session = t.session_started()  # no carrier on this one: back to sending at once
    t.hello_received(Hello(3, entries[2].chain, 0), NOW)
    t.chain_read(session, entries[2].chain, NOW)
    t.pop_outputs()
    assert t.poll_sender(session) == ReadSent(session, 3, 256)


def test_an_entry_numbered_with_its_request_waits_for_the_pacer() -> None:
    (entry,) = chain([Precedence.FLASH])
    t, session = carrier_up()
    assert not t.numbered_now(entry, held=False)
    assert sends(t) == []
    assert t.poll_sender(session, facts()) == ReadSent(session, 0, CARRIER_READ)
