"""A minimal Hotline station written from docs/protocol.md and docs/vectors/ alone.

It shares no code with the ``hotline`` package: it stands for an outside engineer's station, and the
integration test that runs it against a real daemon proves that the specification is enough to
interoperate (the `standard` profile: cards, sealed line keys, safety numbers, the handshake,
records, and the line messages of §10).
"""
