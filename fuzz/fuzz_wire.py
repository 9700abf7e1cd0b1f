"""Fuzz target ``wire``: station-to-station line messages and the bodies entries carry.

Input: one message's bytes. They go to :func:`hotline.proto.linemsg.decode`, to
:func:`~hotline.proto.linemsg.decode_probe` and to :func:`hotline.proto.document.decode_meta`; the
body of a decoded TEST/TEST_REPLY or DOC entry goes on to the decoder the station would use for it.

Contract: each decoder returns a checked value or raises its one documented error
(:class:`LineMessageError`, :class:`DocMetaError`); a value it returns survives encode and decode
unchanged, and a document name it accepts is already clean.
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from hotline.proto import linemsg
    from hotline.proto.document import DocMetaError, clean_name, decode_meta, encode_meta


def _probe(data: bytes) -> None:
    try:
        probe = linemsg.decode_probe(data)
    except linemsg.LineMessageError:
        return
    assert linemsg.decode_probe(linemsg.encode(probe)) == probe


def _meta(data: bytes) -> None:
    try:
        meta = decode_meta(data)
    except DocMetaError:
        return
    assert clean_name(meta.name) == meta.name
    assert decode_meta(encode_meta(meta)) == meta


def test_one_input(data: bytes) -> None:
    """Check the decoders' contract on one input (see the module docstring)."""
    _probe(data)
    _meta(data)
    try:
        message = linemsg.decode(data)
    except linemsg.LineMessageError:
        return
    assert linemsg.decode(linemsg.encode(message)) == message
    if isinstance(message, linemsg.Entry):
        if message.kind in (linemsg.Kind.TEST, linemsg.Kind.TEST_REPLY):
            _probe(message.body)
        elif message.kind == linemsg.Kind.DOC:
            _meta(message.body)


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
