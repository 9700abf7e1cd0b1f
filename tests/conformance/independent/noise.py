"""The handshake of §3 under the `standard` profile: Noise IKpsk2+hfs with X25519, ML-KEM-768,
ChaCha20-Poly1305 and BLAKE2s, written from the Noise specification (revision 34) and §3.1's
token list::

    <- s
    ...
    -> e, es, e1, s, ss
    <- e, ee, ekem1, se, psk
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .keys import RAW
from .wire import WireError

PROTOCOL_NAME = b"Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
PROLOGUE = b"hotline/1"
INITIATION_LEN, RESPONSE_LEN, MAC1_AT = 1320, 1152, 1304


def mac1(responder_static: bytes, noise_initiation: bytes) -> bytes:
    """§3.4: keyed BLAKE2s-128 under ``BLAKE2s("hotline mac1----" || responder_static)``."""
    key = hashlib.blake2s(b"hotline mac1----" + responder_static).digest()
    return hashlib.blake2s(noise_initiation, key=key, digest_size=16).digest()


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2s).digest()


def _hkdf(ck: bytes, ikm: bytes, n: int) -> list[bytes]:
    """Noise's HKDF with HMAC-BLAKE2s: ``n`` outputs of 32 bytes."""
    temp = _hmac(ck, ikm)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = _hmac(temp, prev + bytes([i]))
        out.append(prev)
    return out


def _dh(private: x25519.X25519PrivateKey, public: bytes) -> bytes:
    return private.exchange(x25519.X25519PublicKey.from_public_bytes(public))


class CipherState:
    """A Noise CipherState: ChaCha20-Poly1305 with the nonce ``0^32 || u64le(n)``."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key
        self.n = 0

    def encrypt(self, ad: bytes, plaintext: bytes) -> bytes:
        if self.key is None:
            return plaintext
        out = ChaCha20Poly1305(self.key).encrypt(bytes(4) + struct.pack("<Q", self.n), plaintext, ad)
        self.n += 1
        return out

    def decrypt(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self.key is None:
            return ciphertext
        try:
            out = ChaCha20Poly1305(self.key).decrypt(bytes(4) + struct.pack("<Q", self.n), ciphertext, ad)
        except Exception:
            raise WireError("AEAD does not open") from None
        self.n += 1
        return out


class Symmetric:
    """Noise's SymmetricState."""

    def __init__(self, prologue: bytes) -> None:
        self.h = hashlib.blake2s(PROTOCOL_NAME).digest()  # the name is longer than HASHLEN
        self.ck = self.h
        self.cipher = CipherState()
        self.mix_hash(prologue)

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.blake2s(self.h + data).digest()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, key = _hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(key)

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, key = _hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cipher = CipherState(key)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ct = self.cipher.encrypt(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        pt = self.cipher.decrypt(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = _hkdf(self.ck, b"", 2)
        return CipherState(k1), CipherState(k2)


class Initiator:
    """The initiator's half: :meth:`initiation` then :meth:`read_response`."""

    def __init__(
        self,
        static: x25519.X25519PrivateKey,
        responder_static: bytes,
        psk: bytes,
        *,
        ephemeral: bytes | None = None,
        kem_seed: bytes | None = None,
    ) -> None:
        """``ephemeral`` and ``kem_seed`` fix the fresh keys (to replay docs/vectors); drawn if None."""
        self.s, self.rs, self.psk = static, responder_static, psk
        self.sym = Symmetric(PROLOGUE)
        self.sym.mix_hash(responder_static)  # <- s
        self.e = x25519.X25519PrivateKey.from_private_bytes(ephemeral or os.urandom(32))
        self.kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(kem_seed or os.urandom(64))

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
        assert len(body) == MAC1_AT
        return body + mac1(self.rs, body)

    def read_response(self, body: bytes) -> tuple[CipherState, CipherState, bytes]:
        """Open the response; returns (send, receive, handshake hash)."""
        if len(body) != RESPONSE_LEN:
            raise WireError("response length")
        sym = self.sym
        re = body[:32]
        sym.mix_hash(re)
        sym.mix_key(re)
        sym.mix_key(_dh(self.e, re))  # ee
        ct = sym.decrypt_and_hash(body[32 : 32 + 1104])  # ekem1
        sym.mix_key(self.kem.decapsulate(ct))
        sym.mix_key(_dh(self.s, re))  # se
        sym.mix_key_and_hash(self.psk)
        if sym.decrypt_and_hash(body[32 + 1104 :]) != b"":
            raise WireError("response payload not empty")
        send, receive = sym.split()
        return send, receive, sym.h


class Responder:
    """The responder's half: :meth:`read_initiation`, then :meth:`response` with the line key."""

    def __init__(self, static: x25519.X25519PrivateKey) -> None:
        self.s = static
        self.sym = Symmetric(PROLOGUE)
        self.sym.mix_hash(static.public_key().public_bytes(*RAW))  # <- s

    def read_initiation(self, body: bytes) -> tuple[bytes, int]:
        """Check length and ``mac1``, open the message; returns (initiator static, timestamp)."""
        own = self.s.public_key().public_bytes(*RAW)
        if len(body) != INITIATION_LEN or not hmac.compare_digest(mac1(own, body[:MAC1_AT]), body[MAC1_AT:]):
            raise WireError("initiation length or mac1")
        sym = self.sym
        self.re = body[:32]
        sym.mix_hash(self.re)
        sym.mix_key(self.re)
        sym.mix_key(_dh(self.s, self.re))  # es
        self.kem_public = sym.decrypt_and_hash(body[32 : 32 + 1200])  # e1
        self.rs = sym.decrypt_and_hash(body[1232 : 1232 + 48])  # s
        sym.mix_key(_dh(self.s, self.rs))  # ss
        payload = sym.decrypt_and_hash(body[1280:MAC1_AT])
        if len(payload) != 8:
            raise WireError("initiation payload")
        return self.rs, struct.unpack(">Q", payload)[0]

    def response(self, psk: bytes) -> tuple[bytes, CipherState, CipherState, bytes]:
        """The response body; returns (body, send, receive, handshake hash)."""
        sym = self.sym
        e = x25519.X25519PrivateKey.generate()
        e_pub = e.public_key().public_bytes(*RAW)
        sym.mix_hash(e_pub)
        sym.mix_key(e_pub)
        sym.mix_key(_dh(e, self.re))  # ee
        shared, ct = mlkem.MLKEM768PublicKey.from_public_bytes(self.kem_public).encapsulate()
        ekem1 = sym.encrypt_and_hash(ct)
        sym.mix_key(shared)
        sym.mix_key(_dh(e, self.rs))  # se
        sym.mix_key_and_hash(psk)
        body = e_pub + ekem1 + sym.encrypt_and_hash(b"")
        assert len(body) == RESPONSE_LEN
        initiator_to_us, us_to_initiator = sym.split()
        return body, us_to_initiator, initiator_to_us, sym.h
