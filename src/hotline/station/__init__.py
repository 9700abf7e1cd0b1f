"""The station daemon: one identity, one store, many supervised lines and the control socket.

:mod:`~hotline.station.service` holds the :class:`Station`, the composition root that builds and wires
the rest: the lines (:mod:`~hotline.station.lines`: the registry, one line's sessions, supervision
and reliable delivery, line tests), the call and document desks, the quotas; the interfaces they ask
of each other (:mod:`~hotline.station.ports`), the event bus and alerts
(:mod:`~hotline.station.events`) and the shapes operators see (:mod:`~hotline.station.views`).
Requests, the same whether they come over the control socket or run offline, are one op table in
:mod:`~hotline.station.requests.dispatch`; the store's thread is :mod:`~hotline.station.worker`.
See docs/protocol.md §10 and docs/control.md.
"""
