"""The station's durable state in SQLite: lines, both directions of every transcript, events.

Synchronous and free of asyncio and sockets (an import-linter contract checks it): the station calls
it from one thread. The file is encrypted page by page (:mod:`~hotline.store.connection`); message
bodies, call audio and line keys are sealed again inside it (:mod:`~hotline.store.sealing`).
"""
