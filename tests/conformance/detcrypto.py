"""Deterministic stand-ins for the two randomized steps of cards and sealed line keys. Test-only.

A station signs with hedged ML-DSA and seals with HPKE whose encapsulation draws fresh randomness,
so neither can be pinned through production code. Here:

* :func:`hybrid_sign` makes the hybrid signature of docs/protocol.md §8.2 with ML-DSA's
  deterministic variant (FIPS 204, ``rnd`` = 32 zero bytes) through the pure-Python ``dilithium-py``;
  the Ed25519 half is deterministic anyway.
* :func:`seal_standard` and :func:`seal_cnsa2` are an HPKE (RFC 9180) base-mode sender written from
  the text of §8.5 alone: the hybrid KEM's Encap with a fixed ML-KEM ``m`` (kyber-py's
  ``Encaps_internal``) and a fixed classical ephemeral, the combiner of the KEM's specification,
  then RFC 9180's key schedule and one AEAD seal. Our production opener (pyca) must open what it
  seals, which is the proof that §8.5 says enough to build a sender.

Fixed randomness is fatal in real use; nothing here is ever called outside tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from dilithium_py.ml_dsa import ML_DSA_65, ML_DSA_87  # type: ignore[import-untyped]
from kyber_py.ml_kem import ML_KEM_768, ML_KEM_1024  # type: ignore[import-untyped]

#: X-Wing's combiner label, the six ASCII characters ``\.//^\``.
XWING_LABEL = b"\\.//^\\"
#: The MLKEM1024-P384 combiner label (draft-irtf-cfrg-concrete-hybrid-kems, as draft-ietf-hpke-pq uses it).
P384_LABEL = b"MLKEM1024-P384"
#: RFC 9180 suite ids: KEM, KDF, AEAD.
SUITE_STANDARD = (0x647A, 0x0001, 0x0003)
SUITE_CNSA2 = (0x0051, 0x0002, 0x0002)


def mldsa_keypair(xi: bytes, level: int) -> tuple[bytes, bytes]:
    """FIPS 204 ML-DSA.KeyGen_internal(xi) at ``level`` 65 or 87: ``(pk, sk)``."""
    scheme = ML_DSA_65 if level == 65 else ML_DSA_87
    pk, sk = scheme.key_derive(bytes(xi))
    return bytes(pk), bytes(sk)


def hybrid_sign(ed25519_seed: bytes, mldsa_xi: bytes, message: bytes, *, context: bytes, level: int) -> bytes:
    """The hybrid signature of §8.2, deterministic: Ed25519 then ML-DSA-``level`` over
    ``u8(len(context)) || context || message``, the ML-DSA half with ``context`` as its context."""
    data = bytes([len(context)]) + context + message
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(ed25519_seed)).sign(data)
    scheme = ML_DSA_65 if level == 65 else ML_DSA_87
    _, sk = mldsa_keypair(mldsa_xi, level)
    return ed + bytes(scheme.sign(sk, data, ctx=context, deterministic=True))


@dataclass(frozen=True)
class Sealing:
    """Every intermediate value of one deterministic HPKE seal, for the vector file."""

    pq_ciphertext: bytes
    pq_shared_secret: bytes
    classical_ciphertext: bytes
    classical_shared_secret: bytes
    shared_secret: bytes
    suite_id: bytes
    key_schedule_context: bytes
    key: bytes
    base_nonce: bytes
    ciphertext: bytes

    @property
    def enc(self) -> bytes:
        """The KEM's ``enc``: the ML-KEM ciphertext, then the classical share."""
        return self.pq_ciphertext + self.classical_ciphertext

    @property
    def sealed(self) -> bytes:
        """What goes in the ``hpke`` field: ``enc || ciphertext``."""
        return self.enc + self.ciphertext


def _suite_id(ids: tuple[int, int, int]) -> bytes:
    return b"HPKE" + b"".join(i.to_bytes(2, "big") for i in ids)


def _key_schedule(
    shared_secret: bytes, info: bytes, suite: bytes, algorithm: hashes.HashAlgorithm, nk: int
) -> tuple[bytes, bytes, bytes]:
    """RFC 9180 §5.1, base mode (psk and psk_id empty): ``(key_schedule_context, key, base_nonce)``."""

    def extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
        mac = hmac.HMAC(salt or bytes(algorithm.digest_size), algorithm)
        mac.update(b"HPKE-v1" + suite + label + ikm)
        return mac.finalize()

    def expand(prk: bytes, label: bytes, context: bytes, length: int) -> bytes:
        labelled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + context
        return HKDFExpand(algorithm, length, labelled).derive(prk)

    context = b"\x00" + extract(b"", b"psk_id_hash", b"") + extract(b"", b"info_hash", info)
    secret = extract(shared_secret, b"secret", b"")
    return context, expand(secret, b"key", context, nk), expand(secret, b"base_nonce", context, 12)


def seal_standard(
    plaintext: bytes, *, mlkem768_public: bytes, x25519_public: bytes, info: bytes, m: bytes, ephemeral: bytes
) -> Sealing:
    """HPKE base mode, MLKEM768-X25519 (X-Wing) + HKDF-SHA256 + ChaCha20-Poly1305, empty aad."""
    ss_m, ct_m = ML_KEM_768._encaps_internal(bytes(mlkem768_public), bytes(m))
    eph = x25519.X25519PrivateKey.from_private_bytes(bytes(ephemeral))
    ct_x = eph.public_key().public_bytes_raw()
    ss_x = eph.exchange(x25519.X25519PublicKey.from_public_bytes(bytes(x25519_public)))
    shared = hashlib.sha3_256(bytes(ss_m) + ss_x + ct_x + bytes(x25519_public) + XWING_LABEL).digest()
    suite = _suite_id(SUITE_STANDARD)
    context, key, nonce = _key_schedule(shared, info, suite, hashes.SHA256(), 32)
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, plaintext, b"")
    return Sealing(bytes(ct_m), bytes(ss_m), ct_x, ss_x, shared, suite, context, key, nonce, ciphertext)


def seal_cnsa2(
    plaintext: bytes, *, mlkem1024_public: bytes, p384_public: bytes, info: bytes, m: bytes, ephemeral: bytes
) -> Sealing:
    """HPKE base mode, MLKEM1024-P384 + HKDF-SHA384 + AES-256-GCM, empty aad."""
    ss_pq, ct_pq = ML_KEM_1024._encaps_internal(bytes(mlkem1024_public), bytes(m))
    eph = ec.derive_private_key(int.from_bytes(ephemeral, "big"), ec.SECP384R1())
    ct_t = eph.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), bytes(p384_public))
    ss_t = eph.exchange(ec.ECDH(), peer)
    shared = hashlib.sha3_256(bytes(ss_pq) + ss_t + ct_t + bytes(p384_public) + P384_LABEL).digest()
    suite = _suite_id(SUITE_CNSA2)
    context, key, nonce = _key_schedule(shared, info, suite, hashes.SHA384(), 32)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, b"")
    return Sealing(bytes(ct_pq), bytes(ss_pq), ct_t, ss_t, shared, suite, context, key, nonce, ciphertext)
