"""The sending side of a session: the messages it queues and the records they are sealed into
(docs/protocol.md §5.3, §14.5).

An :class:`Outbox` takes every message a session sends, the application's and its own (pings,
rekeys, ``Close``): onto the outgoing message stream of the session's
:class:`~hotline.proto.transport.Transport`, or in carrier mode into a lane of its
:class:`~hotline.proto.carriermode.CarrierMode`, and it tells the
:class:`~hotline.proto.keepalive.Keepalive` that the session has spoken. When the session flushes,
it seals the stream into records under the current sending key. Like the transport it knows no
session states: the :class:`~hotline.proto.session.Session` checks that it may send, says whether a
key's volume limit calls for a rekey yet, and ends itself when ``key_spent`` is called.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierMode
from hotline.proto.constants import MAX_DATA_LEN
from hotline.proto.errors import ErrorCode, LocalProtocolError
from hotline.proto.keepalive import Keepalive
from hotline.proto.messages import Bytes, Close, Data, Message
from hotline.proto.transport import Transport


class Outbox:
    """Where a session's outgoing messages wait until they are sealed. Not thread-safe.

    ``carrier`` is the session's carrier in carrier mode (None otherwise); ``key_spent`` ends the
    session when the sending key can seal no more records.
    """

    __slots__ = ("_carrier", "_keepalive", "_key_spent", "_transport")

    def __init__(
        self,
        transport: Transport,
        keepalive: Keepalive,
        *,
        key_spent: Callable[[], None],
        carrier: CarrierMode | None = None,
    ) -> None:
        self._transport = transport
        self._keepalive = keepalive
        self._key_spent = key_spent
        self._carrier = carrier

    def use_carrier(self, carrier: CarrierMode | None) -> None:
        """Set the session's carrier: a responder learns it with the initiator's key, before any
        record of the session is sealed."""
        self._carrier = carrier

    # -- queueing ----------------------------------------------------------------------------------

    def send(self, message: Message, now: float, lane: Lane = Lane.CONTROL) -> None:
        """Queue ``message`` on the outgoing stream, or in carrier mode in ``lane``.

        Raises:
            LaneFull: carrier mode, and ``lane`` is too full to take it now (nothing queued).
        """
        if self._carrier is None:
            self._transport.push(message)
        else:
            self._carrier.offer(lane, message, now)
        self._keepalive.sent(now)

    def send_data(self, data: bytes, now: float, lane: Lane) -> None:
        """Queue one application payload as a ``Data`` message (in ``lane`` in carrier mode).

        Raises:
            LaneFull: as :meth:`send`.
            LocalProtocolError: the payload is longer than :data:`MAX_DATA_LEN`.
        """
        if len(data) > MAX_DATA_LEN:
            raise LocalProtocolError("payload too large for one record", ErrorCode.MESSAGE_TOO_LARGE)
        self.send(Data(data), now, lane)

    def send_parts(self, parts: list[Bytes], now: float, lane: Lane) -> None:
        """:meth:`send_data` of ``b"".join(parts)`` without copying the parts: they are borrowed
        until sealed or :meth:`own_queued`. In carrier mode they are joined at once. Raises as
        :meth:`send_data`."""
        if self._carrier is not None:
            self.send_data(b"".join(parts), now, lane)
            return
        if sum(len(part) for part in parts) > MAX_DATA_LEN:
            raise LocalProtocolError("payload too large for one record", ErrorCode.MESSAGE_TOO_LARGE)
        self._transport.stream_out.push_data(parts)
        self._keepalive.sent(now)

    def send_close(self, code: ErrorCode, reason: str, now: float) -> None:
        """Queue a ``Close`` telling the peer why the session ends (the reason cut to 1024
        characters), or nothing when it cannot be queued."""
        # if the key is spent the peer sees the connection close instead
        with contextlib.suppress(LocalProtocolError):
            self.send(Close(int(code), reason[:1024]), now)

    def own_queued(self) -> None:
        """Copy what is still queued of :meth:`send_parts`'s parts, so that their owner may change them."""
        self._transport.stream_out.own()

    # -- sealing -----------------------------------------------------------------------------------

    def flush(self, *, full_only: bool = False, on_volume: Callable[[], None] | None = None) -> None:
        """Seal the outgoing stream into records under the current sending key (with ``full_only``,
        only whole records' worth). ``on_volume`` is called once the key has reached its volume
        limit (it queues a rekey, or a request for one); without it, as before a key switch, the
        last record sealed is the last under this key. A spent key calls ``key_spent``."""
        if not self._transport.seal(full_only=full_only, on_volume=on_volume):
            # end rather than reuse a nonce
            self._key_spent()

    def take(self, *, full_only: bool, on_volume: Callable[[], None] | None) -> bytes | bytearray:
        """:meth:`flush`, then everything waiting to be written (handshake records too) as one
        buffer, which empties the queue."""
        self.flush(full_only=full_only, on_volume=on_volume)
        return self._transport.take_output()
