"""Identities, cards and safety numbers of both line profiles (§8.1 to §8.4, §8.7)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, x25519

from .wire import WireError, pack, unpack_canonical

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
P384_N = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16
)


def _sign(
    ed: ed25519.Ed25519PrivateKey,
    ml: mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey,
    context: bytes,
    message: bytes,
) -> bytes:
    """A hybrid signature (§8.2): both halves over ``u8(len(ctx)) || ctx || message``."""
    m = bytes([len(context)]) + context + message
    return ed.sign(m) + ml.sign(m, context)


def verify_hybrid(verify_key: bytes, context: bytes, message: bytes, signature: bytes) -> None:
    """Check a hybrid signature (§8.2) under ``ed25519 || mldsa`` (ML-DSA-65 for a 1984-byte key,
    ML-DSA-87 for 2624); raises :class:`WireError` unless both halves verify."""
    sizes = {1984: 3373, 2624: 4691}
    if len(verify_key) not in sizes or len(signature) != sizes[len(verify_key)]:
        raise WireError("hybrid key or signature of the wrong length")
    ml_key = mldsa.MLDSA65PublicKey if len(verify_key) == 1984 else mldsa.MLDSA87PublicKey
    m = bytes([len(context)]) + context + message
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(verify_key[:32]).verify(signature[:64], m)
        ml_key.from_public_bytes(verify_key[32:]).verify(signature[64:], m, context)
    except Exception as exc:  # InvalidSignature, or a key pyca refuses
        raise WireError(f"signature does not verify: {exc!r}") from None


def key_digest(x25519_pub: bytes, mlkem768_pub: bytes, verify_key: bytes) -> bytes:
    """``key_digest_standard`` (§8.1); ``verify_key`` is ``ed25519 || mldsa65``."""
    return hashlib.blake2s(b"hotline station keys v1" + x25519_pub + mlkem768_pub + verify_key).digest()


def key_digest_cnsa2(x25519_pub: bytes, mlkem1024_pub: bytes, p384_pub: bytes, verify87: bytes) -> bytes:
    """``key_digest_cnsa2`` (§8.1); ``verify87`` is ``ed25519 || mldsa87``."""
    data = b"hotline station keys cnsa2 v1" + x25519_pub + mlkem1024_pub + p384_pub + verify87
    return hashlib.sha384(data).digest()[:32]


def fingerprint(digest: bytes) -> str:
    """The first 20 bytes of a key digest as eight groups of four base32 characters."""
    text = base64.b32encode(digest[:20]).decode()
    return " ".join(text[i : i + 4] for i in range(0, 32, 4))


@dataclass
class Identity:
    """A station's private keys (§8.1) and what follows from them."""

    name: str
    x25519_private: bytes
    mlkem768_seed: bytes
    signing_seed: bytes
    mlkem1024_seed: bytes
    p384_scalar: bytes
    mldsa87_xi: bytes

    @staticmethod
    def generate(name: str) -> Identity:
        while True:  # a P-384 scalar must be 1 <= d < n (§8.1)
            scalar = os.urandom(48)
            if 0 < int.from_bytes(scalar, "big") < P384_N:
                break
        return Identity(
            name, os.urandom(32), os.urandom(64), os.urandom(64), os.urandom(64), scalar, os.urandom(32)
        )

    @property
    def x25519(self) -> x25519.X25519PrivateKey:
        return x25519.X25519PrivateKey.from_private_bytes(self.x25519_private)

    @property
    def mlkem768(self) -> mlkem.MLKEM768PrivateKey:
        return mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem768_seed)

    @property
    def x25519_public(self) -> bytes:
        return self.x25519.public_key().public_bytes(*RAW)

    @property
    def verify_key(self) -> bytes:
        ed = ed25519.Ed25519PrivateKey.from_private_bytes(self.signing_seed[:32])
        ml = mldsa.MLDSA65PrivateKey.from_seed_bytes(self.signing_seed[32:])
        return ed.public_key().public_bytes(*RAW) + ml.public_key().public_bytes_raw()

    @property
    def mlkem1024(self) -> mlkem.MLKEM1024PrivateKey:
        return mlkem.MLKEM1024PrivateKey.from_seed_bytes(self.mlkem1024_seed)

    @property
    def p384(self) -> ec.EllipticCurvePrivateKey:
        return ec.derive_private_key(int.from_bytes(self.p384_scalar, "big"), ec.SECP384R1())

    @property
    def p384_public(self) -> bytes:
        """The uncompressed point ``04 || x || y`` (97 bytes)."""
        return self.p384.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def verify_key_cnsa2(self) -> bytes:
        ml87 = mldsa.MLDSA87PrivateKey.from_seed_bytes(self.mldsa87_xi).public_key().public_bytes_raw()
        return self.verify_key[:32] + ml87

    @property
    def digest(self) -> bytes:
        return key_digest(self.x25519_public, self.mlkem768.public_key().public_bytes_raw(), self.verify_key)

    def digest_of(self, profile: str) -> bytes:
        """The key digest of ``profile`` (§8.1)."""
        if profile == "standard":
            return self.digest
        kem = self.mlkem1024.public_key().public_bytes_raw()
        return key_digest_cnsa2(self.x25519_public, kem, self.p384_public, self.verify_key_cnsa2)

    def card(self, endpoints: list[str], created_at: int, version: int = 2) -> bytes:
        """This station's card (§8.3), version 2 (both profiles' keys) or 1 (`standard` only)."""
        ed = ed25519.Ed25519PrivateKey.from_private_bytes(self.signing_seed[:32])
        ml65 = mldsa.MLDSA65PrivateKey.from_seed_bytes(self.signing_seed[32:])
        kem768 = self.mlkem768.public_key().public_bytes_raw()
        if version == 1:
            body = pack(
                [1, self.name, self.x25519_public, kem768, self.verify_key, list(endpoints), created_at]
            )
            return pack([body, _sign(ed, ml65, b"hotline card v1", body)])
        kem1024 = self.mlkem1024.public_key()
        p384_point = self.p384_public
        ml87 = mldsa.MLDSA87PrivateKey.from_seed_bytes(self.mldsa87_xi)
        body = pack(
            [
                2,
                self.name,
                self.x25519_public,
                kem768,
                self.verify_key,
                kem1024.public_bytes_raw(),
                p384_point,
                ml87.public_key().public_bytes_raw(),
                list(endpoints),
                created_at,
            ]
        )
        return pack(
            [body, _sign(ed, ml65, b"hotline card v2", body), _sign(ed, ml87, b"hotline card v2 cnsa2", body)]
        )


# -- armor (§8.3)

BEGIN, END = "-----BEGIN HOTLINE STATION CARD-----", "-----END HOTLINE STATION CARD-----"


def armor(card: bytes) -> str:
    text = base64.b64encode(card).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    checksum = hashlib.blake2s(card).digest()[:4].hex()
    return "\n".join([BEGIN, *lines, "=" + checksum, END]) + "\n"


def dearmor(text: str) -> bytes:
    lines = [ln.strip(" \t\r") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    if lines[0] != BEGIN or lines[-1] != END or not lines[-2].startswith("="):
        raise WireError("not an armored card")
    card = base64.b64decode("".join("".join(lines[1:-2]).split()), validate=True)
    if hashlib.blake2s(card).digest()[:4].hex() != lines[-2][1:]:
        raise WireError("card checksum: damaged in transit")
    return card


@dataclass(frozen=True)
class Card:
    """A peer's card, read and verified (§8.3); the `cnsa2` keys are empty on a version 1 card."""

    version: int
    name: str
    x25519: bytes
    mlkem768: bytes
    verify_key: bytes
    endpoints: list[str]
    created_at: int
    mlkem1024: bytes = b""
    p384: bytes = b""
    mldsa87: bytes = b""

    @property
    def digest(self) -> bytes:
        return key_digest(self.x25519, self.mlkem768, self.verify_key)

    @property
    def verify_key_cnsa2(self) -> bytes:
        return self.verify_key[:32] + self.mldsa87

    def digest_of(self, profile: str) -> bytes:
        """The key digest of ``profile`` (§8.1); a version 1 card has none for `cnsa2`."""
        if profile == "standard":
            return self.digest
        if self.version != 2:
            raise WireError("a version 1 card offers no cnsa2 keys")
        return key_digest_cnsa2(self.x25519, self.mlkem1024, self.p384, self.verify_key_cnsa2)


def read_card(card: bytes) -> Card:
    """Read a card as §8.3's list says (checks 1 to 9, the name and endpoints loosely)."""
    if not 1 <= len(card) <= 24 * 1024:
        raise WireError("card size")
    envelope = unpack_canonical(card)
    if (
        not isinstance(envelope, list)
        or len(envelope) not in (2, 3)
        or not all(isinstance(v, bytes) for v in envelope)
    ):
        raise WireError("card envelope")
    body_bytes = envelope[0]
    assert isinstance(body_bytes, bytes)
    body = unpack_canonical(body_bytes)
    if not isinstance(body, list) or not body or body[0] not in (1, 2) or len(envelope) != body[0] + 1:
        raise WireError("card version")
    sizes = {
        "x25519": 32,
        "mlkem768": 1184,
        "verify_key": 1984,
        "mlkem1024": 1568,
        "p384": 97,
        "mldsa87": 2592,
    }
    keys = ["x25519", "mlkem768", "verify_key"] + (["mlkem1024", "p384", "mldsa87"] if body[0] == 2 else [])
    if len(body) != 2 + len(keys) + 2:
        raise WireError("card body length")
    name, fields, endpoints, created_at = body[1], body[2 : 2 + len(keys)], body[-2], body[-1]
    parsed: dict[str, bytes] = {}
    for k, v in zip(keys, fields, strict=True):
        if not isinstance(v, bytes) or len(v) != sizes[k]:
            raise WireError(f"card key {k}")
        parsed[k] = v
    if not isinstance(name, str) or unicodedata.normalize("NFC", name) != name or not 1 <= len(name) <= 64:
        raise WireError("card name")
    if (
        not isinstance(endpoints, list)
        or len(endpoints) > 8
        or not all(isinstance(e, str) for e in endpoints)
    ):
        raise WireError("card endpoints")
    if not isinstance(created_at, int) or not 0 <= created_at < 2**63:
        raise WireError("card created_at")
    mlkem.MLKEM768PublicKey.from_public_bytes(parsed["mlkem768"])  # the FIPS 203 modulus check
    if body[0] == 2:
        mlkem.MLKEM1024PublicKey.from_public_bytes(parsed["mlkem1024"])
        if parsed["p384"][0] != 4:
            raise WireError("p384 not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), parsed["p384"])  # on the curve
    signature = envelope[1]
    assert isinstance(signature, bytes)
    verify_hybrid(parsed["verify_key"], b"hotline card v%d" % body[0], body_bytes, signature)
    if body[0] == 2:
        sig87 = envelope[2]
        assert isinstance(sig87, bytes)
        verify87 = parsed["verify_key"][:32] + parsed["mldsa87"]
        verify_hybrid(verify87, b"hotline card v2 cnsa2", body_bytes, sig87)
    return Card(
        body[0],
        name,
        parsed["x25519"],
        parsed["mlkem768"],
        parsed["verify_key"],
        [str(e) for e in endpoints],
        created_at,
        parsed.get("mlkem1024", b""),
        parsed.get("p384", b""),
        parsed.get("mldsa87", b""),
    )


# -- safety numbers (§8.4) and Appendix A


def words(protocol: Path) -> list[str]:
    """Appendix A's word list, read from the specification and checked against its digest."""
    text = protocol.read_text(encoding="utf-8").split("## Appendix A.", 1)[1]
    found: list[str] = []
    for line in text.splitlines():
        m = re.fullmatch(r"\s+(\d+)((?:\s+[a-z]+){8})\s*", line)
        if m:
            assert int(m.group(1)) == len(found)
            found.extend(m.group(2).split())
    digest = re.search(r"The BLAKE2s of the list is `([0-9a-f]{64})`", text)
    assert digest is not None and len(found) == 256
    assert hashlib.blake2s("".join(w + "\n" for w in found).encode()).hexdigest() == digest.group(1)
    return found


def safety_number(a: bytes, b: bytes, wordlist: list[str], profile: str = "standard") -> tuple[str, str]:
    """The (digits, words) of a line of ``profile`` between key digests ``a`` and ``b`` (of that
    profile)."""
    lo, hi = sorted((a, b))
    if profile == "standard":
        h1 = hashlib.blake2s(b"hotline safety number v1" + lo + hi).digest()
        material = h1 + hashlib.blake2s(h1 + lo + hi).digest()
    else:
        h1 = hashlib.sha384(b"hotline safety number cnsa2 v1" + lo + hi).digest()
        material = (h1 + hashlib.sha384(h1 + lo + hi).digest())[:64]
    digits = " ".join(f"{int.from_bytes(material[5 * i : 5 * i + 5], 'big') % 100000:05d}" for i in range(12))
    return digits, " ".join(wordlist[material[j]] for j in range(24))
