"""The station daemon: one identity, one store, many supervised lines and the control socket.

:mod:`~hotline.station.service` holds the :class:`Station`; each line's sessions, supervision and
reliable delivery are in :mod:`~hotline.station.line`; requests (the same whether they come over
the control socket or run offline) in :mod:`~hotline.station.requests`; the store's thread in
:mod:`~hotline.station.worker`. See docs/protocol.md §10 and docs/control.md.
"""
