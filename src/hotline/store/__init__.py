"""The station's durable state in SQLite: lines, both directions of every transcript, events.

Synchronous and free of asyncio and sockets (an import-linter contract checks it): the station calls
it from one thread. Message bodies and line keys are sealed at rest (:mod:`~hotline.store.sealing`).
"""
