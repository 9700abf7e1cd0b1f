"""The ``Close`` code a peer receives for each kind of violation (docs/protocol.md §6, its table).

Session rules (§5) are checked by the session itself; the line rules of §10 are judged by the
delivery machine, whose :class:`~hotline.proto.transcriptio.Broken` carries the code and reason the
station closes with (tests/unit/station/test_close_codes.py drives a line through them).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hotline.proto.errors import ErrorCode
from hotline.proto.events import SessionTerminated
from hotline.proto.messages import Close, Message, RekeyInit, RekeyRequest, RekeyResponse
from hotline.proto.session import Session
from hotline.proto.states import SessionState
from hotline.proto.transcriptio import Broken, Why
from tests.support.markdown import table_rows
from tests.support.pair import SessionPair

PROTOCOL_MD = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def _established() -> SessionPair:
    pair = SessionPair()
    pair.roundtrip_until_idle()
    assert pair.i.state is pair.r.state is SessionState.ESTABLISHED
    pair.take("i")
    pair.take("r")
    return pair


def _push_raw(sender: Session, message: bytes) -> None:
    """Frame ``message`` as it is onto ``sender``'s message stream (around the encoder's checks)."""
    stream = sender._transport.stream_out
    stream._chunks.append(bytearray(struct.pack(">I", len(message)) + message))
    stream.pending += 4 + len(message)


def _what_the_sender_hears(pair: SessionPair, sender: Session) -> SessionTerminated:
    """Send what ``sender`` queued; the end the other side told ``sender`` (by its ``Close``)."""
    pair.transfer(sender)
    pair.transfer(pair.other(sender))
    name = "i" if sender is pair.i else "r"
    told = [e for e in pair.take(name) if isinstance(e, SessionTerminated)]
    assert len(told) == 1 and told[0].by_peer, told
    return told[0]


@pytest.mark.parametrize(
    ("side", "message", "reason"),
    [
        ("i", RekeyRequest(), "only the responder may ask"),  # §5.4: the dialler never asks
        ("r", RekeyInit(bytes(1320)), "only the initiator starts rekeys"),  # §5.4
        ("r", RekeyResponse(bytes(1152)), "rekey response without a rekey"),  # §5.4
    ],
)
def test_a_session_message_not_allowed_here_is_a_protocol_violation(
    side: str, message: Message, reason: str
) -> None:
    pair = _established()
    sender = pair.i if side == "i" else pair.r
    sender._transport.stream_out.push(message)
    told = _what_the_sender_hears(pair, sender)
    assert told.code is ErrorCode.PROTOCOL_VIOLATION and reason in told.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"\x92\x07\x00",  # §5.3: an unknown tag
        b"\x93\x01\x05\x06",  # a Ping with an extra field
        b"\x92\x01\xa1x",  # a Ping whose id is a string
        b"\x91\x00",  # a Data without its body
    ],
)
def test_a_malformed_message_is_a_protocol_violation(raw: bytes) -> None:
    pair = _established()
    _push_raw(pair.i, raw)
    told = _what_the_sender_hears(pair, pair.i)
    assert told.code is ErrorCode.PROTOCOL_VIOLATION and "malformed" in told.reason


def test_a_close_with_a_code_we_do_not_know_reads_as_a_protocol_violation() -> None:
    pair = _established()
    pair.i._transport.stream_out.push(Close(4000, "from a later version"))
    pair.transfer(pair.i)
    (ended,) = [e for e in pair.take("r") if isinstance(e, SessionTerminated)]
    assert ended.by_peer and ended.code is ErrorCode.PROTOCOL_VIOLATION


@pytest.mark.parametrize("why", [w for w in Why if w is not Why.STORE_FAILED])
def test_every_line_rule_a_peer_breaks_closes_with_protocol_violation(why: Why) -> None:
    broken = Broken(session=1, why=why, seq=7, other=3)
    assert broken.code is ErrorCode.PROTOCOL_VIOLATION
    assert "7" in broken.reason and "§10" in broken.reason and len(broken.reason) <= 1024


def test_our_own_store_failing_is_no_violation_of_the_peer() -> None:
    broken = Broken(session=1, why=Why.STORE_FAILED, seq=7)
    assert broken.code is ErrorCode.LOCAL_CLOSE


def _section(title: str) -> str:
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_spec_lists_every_code_by_its_number_and_name() -> None:
    rows = table_rows(_section("## 6. Error codes"))[2:]
    assert [(int(code), name.strip("`")) for code, name, _ in rows] == [(c.value, c.name) for c in ErrorCode]


def test_every_code_the_violation_table_names_is_a_code() -> None:
    """§6.1: each row's code is one of §6's, written as its number (and name where it is not 1)."""
    section = _section("## 6. Error codes")
    rows = table_rows(section[section.index("### 6.1") :])[2:]
    assert len(rows) >= 20
    for violation, code, rule in rows:
        assert "§" in rule, violation
        if code.startswith("none"):
            continue
        number = int(code.split()[0])
        assert ErrorCode(number).name in code or number == ErrorCode.PROTOCOL_VIOLATION, code
