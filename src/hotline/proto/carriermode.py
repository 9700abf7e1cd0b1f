"""A session in carrier mode (docs/protocol.md §14.5): its messages ride in constant-rate cells.

:mod:`hotline.proto.carrier` shapes lanes of frames into cells and reads them back; this module
puts that shaper between a :class:`~hotline.proto.session.Session` and its record layer. A session
made with a :class:`CarrierSetting` hands every outgoing message to :meth:`CarrierMode.offer`
instead of the message stream of §5.3, seals one cell per tick as a transport record
(:meth:`CarrierMode.seal_due`, driven by the session's timer) and reads every record it receives
as a cell (:meth:`CarrierMode.messages_in`). A session made without one never builds this object
and behaves exactly as §5 says.

What the session does differently in carrier mode, and where:

* the first cell is due when the session is established (the initiator on the response, its cell 0
  carrying the confirming ``Ping``; the responder on that confirmation), one more every
  ``interval`` after it, until the session ends (:meth:`start`, :meth:`next_deadline`);
* rekeys start on the timer only (:mod:`hotline.proto.rekeying`), and the responder's
  ``RekeyResponse`` ends its cell: the sending key switches right after that cell is sealed
  (:meth:`offer` with ``then``);
* a ``Close`` leaves at once: the cells it needs are taken ahead of the schedule (:meth:`flush`);
* a record of the other kind ends the session: the peer does not use carrier mode, or does while
  this session does not (:meth:`messages_in`, and :meth:`~hotline.proto.transport.Transport.messages_in`).

Like the rest of ``hotline.proto`` it reads no clock: ``now`` comes in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hotline.proto.carrier import (
    CELL_INTERVAL,
    CELL_SIZE,
    Carrier,
    CarrierStatus,
    Cell,
    CellReader,
    Lane,
    check_cell_size,
)
from hotline.proto.errors import RemoteProtocolError
from hotline.proto.messages import Close, Data, Message, MessageError, decode_message, encode_message
from hotline.proto.records import ContentKind
from hotline.proto.transport import Transport

#: The first byte of every cell's plaintext.
_CELL = bytes([ContentKind.CELL])


@dataclass(frozen=True, slots=True)
class CarrierSetting:
    """The cells of a session in carrier mode. Both ends of a line must use the same setting: a
    session whose peer sends cells of another size ends with ``PROTOCOL_VIOLATION``."""

    #: Bytes of every cell's plaintext: a §5.2 padding bucket (1043 bytes on the wire by default).
    cell_size: int = CELL_SIZE
    #: Seconds between two cells of one direction.
    interval: float = CELL_INTERVAL

    def __post_init__(self) -> None:
        check_cell_size(self.cell_size)
        if not self.interval > 0:
            raise ValueError("the carrier interval must be positive")


class CarrierMode:
    """The carrier of one session: the shaper, the reader and the key switches it owes. Not
    thread-safe.

    Nothing is sent before :meth:`start`; the session calls it when it is established.
    """

    __slots__ = ("_carrier", "_reader", "_switches", "_transport", "setting")

    def __init__(self, setting: CarrierSetting, transport: Transport) -> None:
        #: The cell size and interval of both directions.
        self.setting = setting
        self._transport = transport
        self._reader = CellReader(cell_size=setting.cell_size)
        self._carrier: Carrier | None = None
        # what to call after each marked cell is sealed, in order: a rekey's switch of sending key
        self._switches: deque[Callable[[float], None]] = deque()

    # -- views for the session's caller --------------------------------------------------------------

    def room(self, lane: Lane) -> int:
        """The longest message (encoded) ``lane`` takes now; 0 when it is full or not started."""
        return 0 if self._carrier is None else self._carrier.room(lane)

    def status(self) -> CarrierStatus | None:
        """What the carrier sent and what waits in it, by lane (None before the first cell)."""
        return None if self._carrier is None else self._carrier.status()

    @property
    def switch_pending(self) -> bool:
        """Whether a ``RekeyResponse`` waits for its cell (the sending key has not switched yet)."""
        return bool(self._switches)

    # -- sending -----------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Owe the first cell at ``now`` (the transport keys are installed and confirmed)."""
        self._carrier = Carrier(now, interval=self.setting.interval, cell_size=self.setting.cell_size)

    def offer(
        self, lane: Lane, message: Message, now: float, *, then: Callable[[float], None] | None = None
    ) -> None:
        """Queue ``message`` at the end of ``lane``. With ``then``, nothing follows the message in
        its cell, and ``then(now)`` runs right after that cell is sealed. A ``Close`` leaves at
        once (:meth:`flush`): the session ends with it.

        Raises:
            LaneFull: the lane cannot hold it now (nothing queued): offer it again later.
            LocalProtocolError: the carrier has not started, or the message is too long.
        """
        carrier = self._carrier
        assert carrier is not None, "a session sends nothing before it is established"
        carrier.offer(lane, encode_message(message), ends_cell=then is not None)
        if then is not None:
            self._switches.append(then)
        if isinstance(message, Close):
            self.flush(now)

    def next_deadline(self) -> float | None:
        """When the next cell is due, or None before :meth:`start`."""
        return None if self._carrier is None else self._carrier.next_deadline()

    def seal_due(self, now: float) -> bool:
        """Seal every cell due by ``now`` as a transport record, in order. Returns False when the
        sending key is spent (the session must end)."""
        return self._carrier is None or self._seal(self._carrier.poll(now), now)

    def flush(self, now: float) -> bool:
        """Seal what is due, then take cells ahead of the schedule until the CONTROL lane is empty,
        so a ``Close`` queued last leaves now (usually in one cell). Returns False when the sending
        key is spent."""
        carrier = self._carrier
        if carrier is None:
            return True
        sealed = self.seal_due(now)
        while sealed and carrier.waiting(Lane.CONTROL).frames:
            sealed = self._seal(carrier.poll(carrier.next_deadline()), now)
        return sealed

    def _seal(self, cells: list[Cell], now: float) -> bool:
        transport = self._transport
        for cell in cells:
            if not transport.seal_plaintext(cell.data):
                return False
            if cell.marked:
                # a late poll seals several cells at once: the switch still comes right after its cell
                self._switches.popleft()(now)
        return True

    # -- receiving ---------------------------------------------------------------------------------

    def messages_in(self, plaintext: bytes) -> list[Message]:
        """The messages that one opened record (a cell) completes, in order.

        Raises:
            RemoteProtocolError: the record is not a cell, a cell of another size, breaks a rule of
                §14.1, or holds a malformed message or a session message outside CONTROL.
        """
        if plaintext[:1] != _CELL:
            raise RemoteProtocolError("the peer does not use carrier mode (§14) and this session does")
        if len(plaintext) != self.setting.cell_size:
            raise RemoteProtocolError(
                f"the peer's cells are {len(plaintext)} bytes and this session's {self.setting.cell_size}:"
                " the two ends use different carrier settings"
            )
        messages: list[Message] = []
        for lane, frame in self._reader.read(plaintext):
            try:
                message = decode_message(frame)
            except MessageError as exc:
                raise RemoteProtocolError(f"malformed message in a carrier cell: {exc}") from exc
            if lane is not Lane.CONTROL and not isinstance(message, Data):
                raise RemoteProtocolError(f"a session message in the {lane.name} lane")
            messages.append(message)
        return messages
