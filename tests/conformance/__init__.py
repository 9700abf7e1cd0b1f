"""Conformance vectors: the files in ``docs/vectors/``, how they are made and how our code is held to them."""
