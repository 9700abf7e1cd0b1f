"""The station's live call lets go of its keys when it ends (finding F9).

A :class:`hotline.station.calls.live.LiveCall` is driven through a whole call against a real far-end
:class:`hotline.proto.call.Call`; the line, session and desk around it are stand-ins that only carry
messages (the daemon-level test is tests/integration/test_calls.py).
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

from hotline.crypto.aead import CipherKey
from hotline.crypto.mlkem import MLKEM768PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.call import Call, CallState
from hotline.proto.callkeys import CalleeExchange, CallerExchange, CallKeys
from hotline.proto.linemsg import CallOffer
from hotline.proto.media import MediaOpener, MediaSealer
from hotline.station.calls.live import LiveCall
from tests.support.farcall import CallChannel, answer_from_far_end
from tests.support.reachable import reachable

BINDING = b"\x33" * 32


def live_caller() -> tuple[LiveCall, CallChannel, list[Any]]:
    channel = CallChannel(BINDING)
    session = SimpleNamespace(channel=channel, initiated=True)
    alerts: list[Any] = []
    line = SimpleNamespace(peer="bravo", current=session, alert=lambda *a: alerts.append(a))
    station = SimpleNamespace(
        config=SimpleNamespace(line=lambda peer: SimpleNamespace(record_calls=False)),
        publish=lambda event: None,
    )
    desk = SimpleNamespace(station=station, trace_file=lambda call_id: None, forget=lambda call: None)
    machine = Call.place(
        b"\x42" * 16, 7, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )
    call = LiveCall(desk, line, session, machine)  # type: ignore[arg-type]
    return call, channel, alerts


def test_nothing_goes_out_before_the_call_is_logged() -> None:
    """F7: the offer waits for the call's row in the log."""
    call, channel, _ = live_caller()
    call.pump()
    assert channel.take() == []
    call.rowid = 1
    call.pump()
    assert [type(m) for m in channel.take()] == [CallOffer]


def test_an_ended_live_call_holds_no_key() -> None:
    """F9: after the hang-up nothing reachable from the live call holds a media key or a private key."""
    call, channel, _ = live_caller()
    call.rowid = 1
    far = answer_from_far_end(call, channel.take, BINDING)
    assert call.machine.state is CallState.ACTIVE and call.sealer is not None and call.opener is not None
    keys = far.keys
    assert keys is not None and call.sas == keys.sas
    packet = call.sealer.seal(b"hello")
    assert MediaOpener(keys.receiving(caller=False), 9).open(packet) == (0, b"hello")

    call.hangup()
    assert call.ended and call.sealer is None and call.opener is None
    secret_types = (
        X25519PrivateKey, MLKEM768PrivateKey, CallerExchange, CalleeExchange, CallKeys, CipherKey,
        MediaSealer, MediaOpener,
    )  # fmt: skip
    secret_bytes = {keys.caller_to_callee, keys.callee_to_caller}
    held = [
        o
        for o in reachable(call, skip=(call.desk, call.line, call.session))
        if isinstance(o, secret_types) or (isinstance(o, bytes) and o in secret_bytes)
    ]
    assert held == []
    described = call.describe()
    assert described["sas"] == list(keys.sas) and described["end_reason"] == "hangup"
