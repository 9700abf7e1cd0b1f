"""Sealed line keys (§8.5, §8.7) of both line profiles: HPKE base mode with MLKEM768-X25519,
HKDF-SHA256 and ChaCha20-Poly1305 (`standard`), or MLKEM1024-P384, HKDF-SHA384 and AES-256-GCM
(`cnsa2`), written out from the specification's formulas."""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from .keys import Card, Identity, verify_hybrid
from .wire import WireError, unpack_canonical


@dataclass(frozen=True)
class _Hpke:
    """One profile's HPKE suite and the sealed key's layout."""

    version: int
    context: bytes  # the signature's context
    signature_len: int
    suite_id: bytes
    hash: str
    nh: int
    pq_ct: int  # bytes of ct_PQ in enc
    t_ct: int  # bytes of ct_T in enc
    label_kem: bytes
    info_prefix: bytes


HPKE = {
    "standard": _Hpke(
        1, b"hotline line key v1", 3373, b"HPKE" + bytes.fromhex("647a00010003"), "sha256", 32,
        1088, 32, b"\\.//^\\", b"hotline line key v1\x00",
    ),
    "cnsa2": _Hpke(
        2, b"hotline line key v2", 4691, b"HPKE" + bytes.fromhex("005100020002"), "sha384", 48,
        1568, 97, b"MLKEM1024-P384", b"hotline line key v2\x00cnsa2\x00",
    ),
}  # fmt: skip


def _extract(s: _Hpke, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt or bytes(s.nh), b"HPKE-v1" + s.suite_id + label + ikm, s.hash)


def _expand(s: _Hpke, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = struct.pack(">H", length) + b"HPKE-v1" + s.suite_id + label + info
    out, block = b"", b""
    for i in range(1, -(-length // s.nh) + 1):
        block = hmac.digest(prk, block + labeled + bytes([i]), s.hash)
        out += block
    return out[:length]


@dataclass(frozen=True)
class LineKey:
    """An opened sealed line key."""

    label: str
    created_at: int
    key: bytes


def _decap(profile: str, enc: bytes, me: Identity) -> bytes:
    """The KEM's ``shared_secret`` for ``me`` (§8.5's Decap)."""
    s = HPKE[profile]
    ct_pq, ct_t = enc[: s.pq_ct], enc[s.pq_ct :]
    if profile == "standard":
        ss_pq = me.mlkem768.decapsulate(ct_pq)
        ss_t = me.x25519.exchange(x25519.X25519PublicKey.from_public_bytes(ct_t))
        ek_t = me.x25519_public
    else:
        ss_pq = me.mlkem1024.decapsulate(ct_pq)
        if ct_t[0] != 4:
            raise WireError("ct_T is not an uncompressed point")
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), ct_t)
        ss_t = me.p384.exchange(ec.ECDH(), point)  # the x-coordinate, 48 bytes
        ek_t = me.p384_public
    return hashlib.sha3_256(ss_pq + ss_t + ct_t + ek_t + s.label_kem).digest()


def open_line_key(sealed: bytes, sender: Card, me: Identity, profile: str = "standard") -> LineKey:
    """Open a sealed line key of a ``profile`` line from ``sender`` to ``me`` (§8.5's eight checks)."""
    s = HPKE[profile]
    if not 1 <= len(sealed) <= 8192:
        raise WireError("sealed key size")
    outer = unpack_canonical(sealed)
    if not isinstance(outer, list) or len(outer) != 2 or not all(isinstance(v, bytes) for v in outer):
        raise WireError("sealed key envelope")
    body_bytes, signature = outer
    assert isinstance(body_bytes, bytes) and isinstance(signature, bytes)
    if len(signature) != s.signature_len:
        raise WireError(f"not a {profile} sealed key")
    if profile == "cnsa2" and sender.version != 2:
        raise WireError("the sender's card has no cnsa2 keys")
    verify_key = sender.verify_key if profile == "standard" else sender.verify_key_cnsa2
    verify_hybrid(verify_key, s.context, body_bytes, signature)
    body = unpack_canonical(body_bytes)
    if not isinstance(body, list) or len(body) != 5 + s.version or body[0] != s.version:
        raise WireError("sealed key body")
    if profile == "cnsa2" and body[1] != "cnsa2":
        raise WireError("sealed key profile")
    label, sender_digest, recipient_digest, created_at, sealed_key = body[s.version :]
    if (
        not isinstance(label, str)
        or unicodedata.normalize("NFC", label) != label
        or not 1 <= len(label) <= 64
    ):
        raise WireError("sealed key label")
    if not isinstance(created_at, int) or not 0 <= created_at < 2**63:
        raise WireError("sealed key created_at")
    if not (isinstance(sender_digest, bytes) and isinstance(recipient_digest, bytes)):
        raise WireError("sealed key digests")
    if not isinstance(sealed_key, bytes) or len(sealed_key) != s.pq_ct + s.t_ct + 48:
        raise WireError("sealed key hpke length")
    if sender_digest != sender.digest_of(profile) or recipient_digest != me.digest_of(profile):
        raise WireError("sealed key digests")
    enc, ct = sealed_key[: s.pq_ct + s.t_ct], sealed_key[s.pq_ct + s.t_ct :]
    shared = _decap(profile, enc, me)
    info = s.info_prefix + sender_digest + recipient_digest + label.encode("utf-8")
    context = b"\x00" + _extract(s, b"", b"psk_id_hash", b"") + _extract(s, b"", b"info_hash", info)
    secret = _extract(s, shared, b"secret", b"")
    key = _expand(s, secret, b"key", context, 32)
    nonce = _expand(s, secret, b"base_nonce", context, 12)
    aead = ChaCha20Poly1305(key) if profile == "standard" else AESGCM(key)
    try:
        line_key = aead.decrypt(nonce, ct, b"")
    except Exception:
        raise WireError("the seal does not open") from None
    if len(line_key) != 32:
        raise WireError("line key length")
    return LineKey(label, created_at, line_key)
