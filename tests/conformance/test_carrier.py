"""Our carrier against ``carrier.json`` (docs/protocol.md §14.1, §14.2)."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.proto.carrier import Carrier, CellReader, Lane
from hotline.proto.errors import RemoteProtocolError
from hotline.proto.messages import decode_message, encode_message
from hotline.proto.noise import CipherState
from hotline.proto.suites import CNSA2, STANDARD
from tests.conformance.vectorfile import load

V: dict[str, Any] = load("carrier.json")
SCENARIOS = V["scenarios"]


def test_lane_numbers() -> None:
    assert V["lanes"] == {lane.name: int(lane) for lane in Lane}


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"])
def test_records_open_and_read_to_the_offered_messages(scenario: dict[str, Any], profile: str) -> None:
    suite = STANDARD if profile == "standard" else CNSA2
    key = bytes.fromhex(V["inputs"][f"record key {profile}"]["hex"])
    cipher = CipherState(key, suite.aead)
    reader = CellReader(cell_size=scenario["cell_size"])
    frames = []
    for record, cell in zip(scenario["records"][profile], scenario["cells"], strict=True):
        wire = bytes.fromhex(record)
        assert int.from_bytes(wire[:2], "big") == len(wire) - 2 == scenario["cell_size"] + 17
        plaintext = cipher.decrypt_with_ad(wire[2:3], wire[3:])
        assert plaintext.hex() == cell["plaintext"]
        frames += reader.read(plaintext)
    offered = sorted((o["lane"], o["message"]) for o in scenario["offered"])
    assert sorted((int(lane), frame.hex()) for lane, frame in frames) == offered
    for _, frame in frames:
        assert encode_message(decode_message(frame)) == frame


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"])
def test_our_carrier_makes_the_same_cells(scenario: dict[str, Any]) -> None:
    carrier = Carrier(0.0, interval=0.02, cell_size=scenario["cell_size"])
    for offer in scenario["offered"]:
        carrier.offer(Lane(offer["lane"]), bytes.fromhex(offer["message"]))
    cells = carrier.poll(0.02 * (len(scenario["cells"]) - 1))
    assert [c.data.hex() for c in cells] == [c["plaintext"] for c in scenario["cells"]]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"])
def test_segments_are_as_given(scenario: dict[str, Any]) -> None:
    for cell in scenario["cells"]:
        data = bytes.fromhex(cell["plaintext"])
        assert data[0] == 2 and len(data) == scenario["cell_size"]
        content = b"".join(
            bytes([s["lane"]]) + s["length"].to_bytes(2, "big") + bytes.fromhex(s["bytes"])
            for s in cell["segments"]
        )
        assert data[1:3] == cell["content_len"].to_bytes(2, "big") and data[3 : 3 + len(content)] == content
        assert not any(data[3 + len(content) :])
        lanes = [s["lane"] for s in cell["segments"]]
        assert lanes == sorted(set(lanes))


def test_a_cell_with_non_zero_padding_is_refused() -> None:
    scenario = SCENARIOS[0]
    cell = bytearray.fromhex(scenario["cells"][0]["plaintext"])
    cell[-1] = 1
    with pytest.raises(RemoteProtocolError):
        CellReader(cell_size=scenario["cell_size"]).read(bytes(cell))
