"""The handshake of §3 under both line profiles (§3.8): Noise IKpsk2+hfs, written from the Noise
specification (revision 34) and §3.1's token list::

    <- s
    ...
    -> e, es, e1, s, ss
    <- e, ee, ekem1, se, psk

`standard` runs X25519, ML-KEM-768, ChaCha20-Poly1305 and BLAKE2s; `cnsa2` X25519, ML-KEM-1024,
AES-256-GCM and SHA-512. An in-band rekey (§5.4) is the same handshake under another prologue.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from .keys import RAW
from .wire import WireError

PROLOGUE = b"hotline/1"
REKEY_PROLOGUE = b"hotline/1 rekey "  # then the handshake hash of the keys being replaced (§3.1)


def _mac1_standard(responder_static: bytes, noise_initiation: bytes) -> bytes:
    key = hashlib.blake2s(b"hotline mac1----" + responder_static).digest()
    return hashlib.blake2s(noise_initiation, key=key, digest_size=16).digest()


def _mac1_cnsa2(responder_static: bytes, noise_initiation: bytes) -> bytes:
    key = hashlib.sha384(b"hotline mac1----" + responder_static).digest()[:32]
    return hmac.digest(key, noise_initiation, "sha384")[:16]


@dataclass(frozen=True)
class Suite:
    """What a line profile fixes in the handshake (§3.1, §3.4, §3.8)."""

    profile: str
    name: bytes
    hash: str  # a hashlib name: the Noise hash, its HMAC and HKDF
    hashlen: int
    kem: type[mlkem.MLKEM768PrivateKey] | type[mlkem.MLKEM1024PrivateKey]
    kem_public: type[mlkem.MLKEM768PublicKey] | type[mlkem.MLKEM1024PublicKey]
    kem_public_len: int
    kem_ct_len: int
    cipher: type[ChaCha20Poly1305] | type[AESGCM]
    nonce_order: str  # Noise: little-endian counter for ChaChaPoly, big-endian for AESGCM

    @property
    def mac1_at(self) -> int:
        return 32 + self.kem_public_len + 16 + 48 + 24

    @property
    def initiation_len(self) -> int:
        return self.mac1_at + 16

    @property
    def response_len(self) -> int:
        return 32 + self.kem_ct_len + 16 + 16

    def mac(self, responder_static: bytes, noise_initiation: bytes) -> bytes:
        """``mac1`` (§3.4)."""
        mac = _mac1_cnsa2 if self.profile == "cnsa2" else _mac1_standard
        return mac(responder_static, noise_initiation)


STANDARD = Suite(
    "standard", b"Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s", "blake2s", 32,
    mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey, 1184, 1088, ChaCha20Poly1305, "<",
)  # fmt: skip
CNSA2 = Suite(
    "cnsa2", b"Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512", "sha512", 64,
    mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey, 1568, 1568, AESGCM, ">",
)  # fmt: skip
SUITES = {"standard": STANDARD, "cnsa2": CNSA2}


def _dh(private: x25519.X25519PrivateKey, public: bytes) -> bytes:
    return private.exchange(x25519.X25519PublicKey.from_public_bytes(public))


class CipherState:
    """A Noise CipherState: the suite's AEAD, nonce ``0^32 || u64(n)`` in the suite's byte order."""

    def __init__(self, suite: Suite, key: bytes | None = None) -> None:
        self.suite, self.key = suite, key
        self.n = 0

    def _nonce(self) -> bytes:
        return bytes(4) + struct.pack(self.suite.nonce_order + "Q", self.n)

    def encrypt(self, ad: bytes, plaintext: bytes) -> bytes:
        if self.key is None:
            return plaintext
        out = self.suite.cipher(self.key).encrypt(self._nonce(), plaintext, ad)
        self.n += 1
        return out

    def decrypt(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self.key is None:
            return ciphertext
        try:
            out = self.suite.cipher(self.key).decrypt(self._nonce(), ciphertext, ad)
        except Exception:
            raise WireError("AEAD does not open") from None
        self.n += 1
        return out


class Symmetric:
    """Noise's SymmetricState."""

    def __init__(self, suite: Suite, prologue: bytes) -> None:
        self.suite = suite
        name = suite.name
        # Noise §5.2: the name padded with zeros if it fits in HASHLEN, else its hash
        self.h = name + bytes(suite.hashlen - len(name)) if len(name) <= suite.hashlen else self._hash(name)
        self.ck = self.h
        self.cipher = CipherState(suite)
        self.mix_hash(prologue)

    def _hash(self, data: bytes) -> bytes:
        return hashlib.new(self.suite.hash, data).digest()

    def _hkdf(self, ikm: bytes, n: int) -> list[bytes]:
        """Noise's HKDF over HMAC-HASH: ``n`` outputs of HASHLEN bytes."""
        temp = hmac.digest(self.ck, ikm, self.suite.hash)
        out, prev = [], b""
        for i in range(1, n + 1):
            prev = hmac.digest(temp, prev + bytes([i]), self.suite.hash)
            out.append(prev)
        return out

    def mix_hash(self, data: bytes) -> None:
        self.h = self._hash(self.h + data)

    def mix_key(self, ikm: bytes) -> None:
        self.ck, key = self._hkdf(ikm, 2)
        self.cipher = CipherState(self.suite, key[:32])  # Noise: a 64-byte HASHLEN key is cut to 32

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, key = self._hkdf(ikm, 3)
        self.mix_hash(temp_h)
        self.cipher = CipherState(self.suite, key[:32])

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ct = self.cipher.encrypt(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        pt = self.cipher.decrypt(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = self._hkdf(b"", 2)
        return CipherState(self.suite, k1[:32]), CipherState(self.suite, k2[:32])


class Initiator:
    """The initiator's half: :meth:`initiation` then :meth:`read_response`."""

    def __init__(
        self,
        static: x25519.X25519PrivateKey,
        responder_static: bytes,
        psk: bytes,
        suite: Suite = STANDARD,
        prologue: bytes = PROLOGUE,
        *,
        ephemeral: bytes | None = None,
        kem_seed: bytes | None = None,
    ) -> None:
        """``ephemeral`` and ``kem_seed`` fix the fresh keys (to replay docs/vectors); drawn if None."""
        self.s, self.rs, self.psk, self.suite = static, responder_static, psk, suite
        self.sym = Symmetric(suite, prologue)
        self.sym.mix_hash(responder_static)  # <- s
        self.e = x25519.X25519PrivateKey.from_private_bytes(ephemeral or os.urandom(32))
        self.kem = suite.kem.from_seed_bytes(kem_seed or os.urandom(64))

    def initiation(self, timestamp_ns: int) -> bytes:
        """The initiation body (§3.2) with its ``mac1``."""
        sym = self.sym
        e_pub = self.e.public_key().public_bytes(*RAW)
        sym.mix_hash(e_pub)
        sym.mix_key(e_pub)  # psk modifier: every e also mixes the key
        sym.mix_key(_dh(self.e, self.rs))  # es
        e1 = sym.encrypt_and_hash(self.kem.public_key().public_bytes_raw())
        s = sym.encrypt_and_hash(self.s.public_key().public_bytes(*RAW))
        sym.mix_key(_dh(self.s, self.rs))  # ss
        payload = sym.encrypt_and_hash(struct.pack(">Q", timestamp_ns))
        body = e_pub + e1 + s + payload
        assert len(body) == self.suite.mac1_at
        return body + self.suite.mac(self.rs, body)

    def read_response(self, body: bytes) -> tuple[CipherState, CipherState, bytes]:
        """Open the response; returns (send, receive, handshake hash)."""
        if len(body) != self.suite.response_len:
            raise WireError("response length")
        sym, ct_end = self.sym, 32 + self.suite.kem_ct_len + 16
        re = body[:32]
        sym.mix_hash(re)
        sym.mix_key(re)
        sym.mix_key(_dh(self.e, re))  # ee
        ct = sym.decrypt_and_hash(body[32:ct_end])  # ekem1
        self.encapsulated = self.kem.decapsulate(ct), ct  # kept to replay the responder's side
        sym.mix_key(self.encapsulated[0])
        sym.mix_key(_dh(self.s, re))  # se
        sym.mix_key_and_hash(self.psk)
        if sym.decrypt_and_hash(body[ct_end:]) != b"":
            raise WireError("response payload not empty")
        send, receive = sym.split()
        return send, receive, sym.h


class Responder:
    """The responder's half: :meth:`read_initiation`, then :meth:`response` with the line key."""

    def __init__(
        self, static: x25519.X25519PrivateKey, suite: Suite = STANDARD, prologue: bytes = PROLOGUE
    ) -> None:
        self.s, self.suite = static, suite
        self.sym = Symmetric(suite, prologue)
        self.sym.mix_hash(static.public_key().public_bytes(*RAW))  # <- s

    def read_initiation(self, body: bytes) -> tuple[bytes, int]:
        """Check length and ``mac1``, open the message; returns (initiator static, timestamp)."""
        own, at = self.s.public_key().public_bytes(*RAW), self.suite.mac1_at
        if len(body) != self.suite.initiation_len or not hmac.compare_digest(
            self.suite.mac(own, body[:at]), body[at:]
        ):
            raise WireError("initiation length or mac1")
        sym, s_at = self.sym, 32 + self.suite.kem_public_len + 16
        self.re = body[:32]
        sym.mix_hash(self.re)
        sym.mix_key(self.re)
        sym.mix_key(_dh(self.s, self.re))  # es
        self.kem_public = sym.decrypt_and_hash(body[32:s_at])  # e1
        self.rs = sym.decrypt_and_hash(body[s_at : s_at + 48])  # s
        sym.mix_key(_dh(self.s, self.rs))  # ss
        payload = sym.decrypt_and_hash(body[s_at + 48 : at])
        if len(payload) != 8:
            raise WireError("initiation payload")
        return self.rs, struct.unpack(">Q", payload)[0]

    def response(
        self, psk: bytes, *, ephemeral: bytes | None = None, encapsulated: tuple[bytes, bytes] | None = None
    ) -> tuple[bytes, CipherState, CipherState, bytes]:
        """The response body; returns (body, send, receive, handshake hash). ``ephemeral`` and
        ``encapsulated`` (shared secret, ciphertext) fix the fresh values (to replay docs/vectors)."""
        sym = self.sym
        e = x25519.X25519PrivateKey.from_private_bytes(ephemeral or os.urandom(32))
        e_pub = e.public_key().public_bytes(*RAW)
        sym.mix_hash(e_pub)
        sym.mix_key(e_pub)
        sym.mix_key(_dh(e, self.re))  # ee
        shared, ct = encapsulated or self.suite.kem_public.from_public_bytes(self.kem_public).encapsulate()
        ekem1 = sym.encrypt_and_hash(ct)
        sym.mix_key(shared)
        sym.mix_key(_dh(e, self.rs))  # se
        sym.mix_key_and_hash(psk)
        body = e_pub + ekem1 + sym.encrypt_and_hash(b"")
        assert len(body) == self.suite.response_len
        initiator_to_us, us_to_initiator = sym.split()
        return body, us_to_initiator, initiator_to_us, sym.h
