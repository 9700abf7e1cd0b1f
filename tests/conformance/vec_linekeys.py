"""``docs/vectors/linekeys.json``: line keys sealed from station A to station B under both profiles,
every HPKE intermediate value, and the file ``hotline line grant`` writes (docs/protocol.md §8.5, §8.7).

The stations are those of ``cards.json``. Production code builds the body, the ``info`` bytes and the
encodings; the HPKE encapsulation (fixed ML-KEM ``m`` and classical ephemeral) and the ML-DSA halves of
the signatures (FIPS 204's deterministic variant) come from :mod:`tests.conformance.detcrypto`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hotline.proto import linekeys
from hotline.proto.linekeys import LINE_KEY_CONTEXT, LINE_KEY_CONTEXT_CNSA2, grant_label
from tests.conformance.detcrypto import Sealing, hybrid_sign
from tests.conformance.stations import A, B, grant
from tests.conformance.vectorfile import fixed, fixed_note

FILE = "linekeys.json"

#: The label a station gives the line it grants a key for: its own name, "-", the peer's name.
LABEL = grant_label(A.name, B.name)
#: When A created the keys (seconds since the Unix epoch).
CREATED_AT = 1_800_000_100

_INPUTS = {
    "standard": {
        "line_key": ("line key standard", 32),
        "mlkem_m": ("seal standard/mlkem768 m", 32),
        "ephemeral_private": ("seal standard/x25519 ephemeral", 32),
    },
    "cnsa2": {
        "line_key": ("line key cnsa2", 32),
        "mlkem_m": ("seal cnsa2/mlkem1024 m", 32),
        "ephemeral_private": ("seal cnsa2/p384 ephemeral scalar", 48),
    },
}


def _value(profile: str, name: str) -> bytes:
    label, size = _INPUTS[profile][name]
    return fixed(label, size)


def _hpke(sealing: Sealing, info: bytes) -> dict[str, Any]:
    return {
        "info": info.hex(),
        "mlkem_ciphertext": sealing.pq_ciphertext.hex(),
        "mlkem_shared_secret": sealing.pq_shared_secret.hex(),
        "ephemeral_public": sealing.classical_ciphertext.hex(),
        "dh_shared_secret": sealing.classical_shared_secret.hex(),
        "kem_shared_secret": sealing.shared_secret.hex(),
        "suite_id": sealing.suite_id.hex(),
        "key_schedule_context": sealing.key_schedule_context.hex(),
        "aead_key": sealing.key.hex(),
        "aead_base_nonce": sealing.base_nonce.hex(),
        "aad": "",
        "enc": sealing.enc.hex(),
        "ciphertext": sealing.ciphertext.hex(),
    }


def _sealed(profile: str) -> dict[str, Any]:
    made = grant(
        A,
        B.card(version=2),
        profile,
        key=_value(profile, "line_key"),
        label=LABEL,
        created_at=CREATED_AT,
        m=_value(profile, "mlkem_m"),
        ephemeral=_value(profile, "ephemeral_private"),
    )
    return {
        "version": made.version,
        "line_key": made.key.hex(),
        "label": made.label,
        "created_at": made.created_at,
        "sender": made.sender.hex(),
        "recipient": made.recipient.hex(),
        "hpke": _hpke(made.sealing, made.info),
        "body": made.body.hex(),
        "signature": made.signature.hex(),
        "sealed": made.sealed.hex(),
        "grant_file": made.sealed.hex(),
    }


def _sign(profile: str, body: bytes) -> bytes:
    """The envelope of ``body`` with A's signature of ``profile`` over it."""
    if profile == "standard":
        xi, context, level = A.parts["mldsa65_xi"], LINE_KEY_CONTEXT, 65
    else:
        xi, context, level = A.parts["mldsa87_xi"], LINE_KEY_CONTEXT_CNSA2, 87
    signature = hybrid_sign(A.parts["ed25519_seed"], xi, body, context=context, level=level)
    return linekeys._ENCODER.encode(linekeys._Signed(body, signature))


def _refused() -> list[dict[str, str]]:
    """Sealed keys B must refuse from A, each one fault away from the valid one and signed again by A
    (unless the fault is the signature), so that the fault named is the only one."""
    out: list[dict[str, str]] = []

    def add(what: str, profile: str, sealed: bytes, refusal: str) -> None:
        out.append({"what": what, "profile": profile, "sealed": sealed.hex(), "refusal": refusal})

    good = _sealed("standard")
    body = bytes.fromhex(good["body"])
    hpke = bytes.fromhex(good["hpke"]["enc"] + good["hpke"]["ciphertext"])
    sender, recipient = bytes.fromhex(good["sender"]), bytes.fromhex(good["recipient"])

    def standard_body(**change: Any) -> bytes:
        fields: dict[str, Any] = {
            "version": 1,
            "label": LABEL,
            "sender": sender,
            "recipient": recipient,
            "created_at": CREATED_AT,
            "hpke": hpke,
        }
        fields.update(change)
        return linekeys._ENCODER.encode(linekeys._Body(**fields))

    signature = bytes.fromhex(good["signature"])
    flipped = signature[:-1] + bytes([signature[-1] ^ 1])
    add(
        "the last byte of the ML-DSA-65 signature changed",
        "standard",
        linekeys._ENCODER.encode(linekeys._Signed(body, flipped)),
        "not signed by the sender's card",
    )
    add(
        "a signature one byte short",
        "standard",
        linekeys._ENCODER.encode(linekeys._Signed(body, signature[:-1])),
        "signature has the wrong length",
    )
    add("a standard key read for a cnsa2 line", "cnsa2", bytes.fromhex(good["sealed"]), "for a standard line")
    # created_at sits before hpke: the body again, with it in the wider form
    head = linekeys._ENCODER.encode([1, LABEL, sender, recipient])[1:]
    tail = linekeys._ENCODER.encode(hpke)
    wide = b"\x96" + head + b"\xcf" + CREATED_AT.to_bytes(8, "big") + tail
    add(
        "created_at written as uint 64 (0xcf); signed",
        "standard",
        _sign("standard", wide),
        "not in canonical encoding",
    )
    add(
        "body version 2 with the version 1 layout; signed",
        "standard",
        _sign("standard", standard_body(version=2)),
        "version 2 is not supported",
    )
    add(
        "label ends with a space; signed",
        "standard",
        _sign("standard", standard_body(label=LABEL + " ")),
        "starts or ends with a space",
    )
    add(
        "sender is B's digest; signed",
        "standard",
        _sign("standard", standard_body(sender=recipient)),
        "names a different sender",
    )
    add(
        "recipient is A's digest; signed",
        "standard",
        _sign("standard", standard_body(recipient=sender)),
        "addressed to another station",
    )
    broken = hpke[:-1] + bytes([hpke[-1] ^ 1])
    add(
        "the AEAD tag's last byte changed; signed",
        "standard",
        _sign("standard", standard_body(hpke=broken)),
        "does not open",
    )
    other = standard_body(label="Ottawa-Bern")
    add(
        "a label other than the one sealed (so another info); signed",
        "standard",
        _sign("standard", other),
        "does not open",
    )
    cnsa2 = _sealed("cnsa2")
    fields = msgspec.msgpack.decode(bytes.fromhex(cnsa2["body"]))
    fields[1] = "standard"
    add(
        "a version 2 body naming the profile standard; signed",
        "cnsa2",
        _sign("cnsa2", linekeys._ENCODER.encode(fields)),
        "names the profile 'standard'",
    )
    return out


def build() -> dict[str, Any]:
    """The file's content."""
    return {
        "about": (
            "Line keys sealed by station A to station B (the stations of cards.json), one per profile "
            "(docs/protocol.md §8.5): every HPKE intermediate value (RFC 9180 base mode; KEM "
            "MLKEM768-X25519 or MLKEM1024-P384), the body, the signature and the encoded sealed key, "
            "and the file `hotline line grant` writes and `hotline line accept` reads (§8.7); sealed keys "
            "B must refuse, each one fault away from a valid one (§8.5)."
        ),
        "inputs": {
            "label": LABEL,
            "created_at": CREATED_AT,
            **{
                profile: {
                    name: {"from": fixed_note(label), "hex": fixed(label, size).hex()}
                    for name, (label, size) in names.items()
                }
                for profile, names in _INPUTS.items()
            },
        },
        "sealed": {profile: _sealed(profile) for profile in ("standard", "cnsa2")},
        "refused": _refused(),
    }
