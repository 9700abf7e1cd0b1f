"""The DOC entry's body (hotline.proto.document, docs/protocol.md §13): which hash it names, and how an
entry from before the profiles still reads and chains."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.hashing import digest, hasher
from hotline.proto.document import (
    ACCEPTED_HASHES,
    HASH_LEN,
    DocMeta,
    DocMetaError,
    decode_meta,
    document_hash,
    encode_meta,
)

DOC_ID = bytes(range(16))
#: BLAKE3 of the empty string and of b"abc" (the BLAKE3 reference's test vectors).
BLAKE3_EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
BLAKE3_ABC = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"


def test_blake3_vectors_and_incremental() -> None:
    assert digest("BLAKE3", b"").hex() == BLAKE3_EMPTY
    assert digest("BLAKE3", b"abc").hex() == BLAKE3_ABC
    running = hasher("BLAKE3")
    for piece in (b"a", b"b", b"c"):
        running.update(piece)
    assert running.digest().hex() == BLAKE3_ABC
    assert len(digest("SHA384", b"abc")) == 48


def test_each_profile_names_its_hash() -> None:
    assert document_hash("standard") == "BLAKE3"
    assert document_hash("cnsa2") == "SHA384"
    with pytest.raises(ValueError):
        document_hash("nope")


def test_an_entry_from_before_the_profiles_is_byte_for_byte_what_it_was() -> None:
    """The old four-field body decodes as SHA-256, and a SHA-256 meta encodes to it (chains hold)."""
    old = msgspec.msgpack.encode([DOC_ID, "a.txt", 3, b"\x01" * 32])
    meta = decode_meta(old)
    assert meta.hash == "SHA256" and meta.digest == b"\x01" * 32
    assert encode_meta(meta) == old
    assert decode_meta(old, ACCEPTED_HASHES["standard"]) == meta
    with pytest.raises(DocMetaError):
        decode_meta(old, ACCEPTED_HASHES["cnsa2"])


@pytest.mark.parametrize(("profile", "name"), [("standard", "BLAKE3"), ("cnsa2", "SHA384")])
def test_a_profile_takes_its_own_hash_only(profile: str, name: str) -> None:
    body = encode_meta(DocMeta(DOC_ID, "a.txt", 3, digest(name, b"abc"), name))  # type: ignore[arg-type]
    assert decode_meta(body, ACCEPTED_HASHES[profile]).hash == name
    other = "cnsa2" if profile == "standard" else "standard"
    with pytest.raises(DocMetaError):
        decode_meta(body, ACCEPTED_HASHES[other])


def test_a_digest_of_the_wrong_length_for_its_hash_is_refused() -> None:
    with pytest.raises(DocMetaError):
        decode_meta(encode_meta(DocMeta(DOC_ID, "a", 1, b"\x00" * 32, "SHA384")))
    with pytest.raises(DocMetaError):
        decode_meta(encode_meta(DocMeta(DOC_ID, "a", 1, b"\x00" * 48, "BLAKE3")))
    with pytest.raises(DocMetaError):
        decode_meta(encode_meta(DocMeta(DOC_ID, "a", 1, b"\x00" * 32, "MD5")))


names = st.sampled_from(sorted(HASH_LEN))


@given(name=names, size=st.integers(0, 2**40), title=st.text(min_size=1, max_size=40))
def test_round_trip(name: str, size: int, title: str) -> None:
    meta = DocMeta(DOC_ID, "doc", size, b"\x07" * HASH_LEN[name], name)  # type: ignore[index]
    assert decode_meta(encode_meta(meta)) == meta


@given(body=st.binary(max_size=200))
def test_any_bytes_parse_or_raise_doc_meta_error(body: bytes) -> None:
    try:
        meta = decode_meta(body)
    except DocMetaError:
        return
    assert len(meta.digest) == HASH_LEN[meta.hash]  # type: ignore[index]


@given(
    fields=st.lists(
        st.one_of(st.binary(max_size=64), st.text(max_size=8), st.integers(-5, 2**41)), max_size=7
    )
)
def test_any_array_parses_or_raises_doc_meta_error(fields: list[object]) -> None:
    with contextlib.suppress(DocMetaError):
        decode_meta(msgspec.msgpack.encode(fields))
