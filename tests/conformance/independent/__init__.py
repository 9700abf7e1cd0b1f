"""A minimal Hotline station written from docs/protocol.md and docs/vectors/ alone.

It shares no code with the ``hotline`` package: it stands for an outside engineer's station, and the
integration test that runs it against a real daemon proves that the specification is enough to
interoperate, under both line profiles (`standard` and `cnsa2`): cards, sealed line keys, safety
numbers, the handshake in both roles, records, in-band rekeys in both roles, and the line messages
of §10 with their chain.
"""
