"""Our line messages against ``linemsg.json`` (docs/protocol.md §10, §10.1)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hotline.proto import linemsg
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.suites import CNSA2, STANDARD
from tests.conformance.vectorfile import load

V: dict[str, Any] = load("linemsg.json")


def test_every_tag_has_an_example() -> None:
    assert {m["tag"] for m in V["messages"]} == set(range(12))


@pytest.mark.parametrize("example", V["messages"], ids=lambda m: m["message"])
def test_decodes_and_encodes_again_byte_for_byte(example: dict[str, Any]) -> None:
    encoded = bytes.fromhex(example["msgpack"])
    message = linemsg.decode(encoded)
    assert type(message).__struct_config__.tag == example["tag"]
    assert linemsg.encode(message) == encoded


@pytest.mark.parametrize("example", V["refused"], ids=lambda m: m["breaks"])
def test_refused(example: dict[str, Any]) -> None:
    with pytest.raises(linemsg.LineMessageError):
        linemsg.decode(bytes.fromhex(example["msgpack"]))


def test_probe() -> None:
    probe = bytes.fromhex(V["test_probe"])
    assert linemsg.encode(linemsg.decode_probe(probe)) == probe
    test = next(m for m in V["messages"] if m["message"] == "Entry (TEST)")
    entry = linemsg.decode(bytes.fromhex(test["msgpack"]))
    assert isinstance(entry, linemsg.Entry) and entry.body == probe


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_chains(profile: str) -> None:
    suite = STANDARD if profile == "standard" else CNSA2
    inputs = {name: bytes.fromhex(i["hex"]) for name, i in V["inputs"].items()}
    chain = V["chains"][profile]
    head = chain_start(inputs["sender key digest"], inputs["recipient key digest"], suite)
    assert head.hex() == chain["H0"]
    for step in chain["entries"]:
        f = step["fields"]
        args = {k: bytes.fromhex(x) if isinstance(x, str) else x for k, x in f.items()}
        hashed = msgspec.msgpack.encode(
            [f["seq"], args["id"], f["kind"], f["precedence"], f["created_ms"], args["ref"], args["body"]]
        )
        assert hashed.hex() == step["hashed_fields_msgpack"]
        head = chain_next(head, suite=suite, **args)
        assert head.hex() == step[f"H{f['seq']}"]
