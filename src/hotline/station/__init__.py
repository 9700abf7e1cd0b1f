"""The station daemon: one identity, one store, many supervised lines and the control socket.

Three wings over a shared base, put together by one composition root:

- :mod:`~hotline.station.lines`: every line (``registry``), one line's supervision and sessions
  (``line``), its dialling and backoff (``dialer``), its delivery, the runtime of
  :class:`hotline.proto.transcript.Transcript` (``delivery``), and line tests (``linetest``).
- :mod:`~hotline.station.calls`: the call desk and its media socket, one live call, the call log
  and recordings, sound sources and sinks.
- :mod:`~hotline.station.documents`: the document desk, the sending and receiving sides over
  :mod:`hotline.proto.transfer`, the write, hash and fsync threads.
- The shared base: :mod:`~hotline.station.ports` (what the wings ask of each other),
  :mod:`~hotline.station.events` (the event bus and alerts), :mod:`~hotline.station.views` (the
  shapes operators see), :mod:`~hotline.station.ids`, the store's thread
  (:mod:`~hotline.station.worker`), config, home, logs and errors.
- :mod:`~hotline.station.requests`: what operators ask, one op table in
  :mod:`~hotline.station.requests.dispatch` and handlers by domain, the same over the control
  socket (:mod:`~hotline.station.control`) or run offline (:mod:`~hotline.station.offline`).
- :mod:`~hotline.station.service`: :class:`Station`, which only builds the pieces and wires them.

The rules, checked by the import contracts: the wings never import each other, nor the requests,
the control socket or the composition root; each declares what it needs of the others as a
Protocol (``needs.py`` of its own, or :mod:`~hotline.station.ports`) and is handed it. See
docs/protocol.md §10 to §13 and docs/control.md.
"""
