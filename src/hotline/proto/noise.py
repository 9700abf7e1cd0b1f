"""The Noise Protocol Framework (revision 34) with the ``hfs`` KEM modifier (hfs spec revision 1).

Our own implementation of CipherState (§5.1), SymmetricState (§5.2) and HandshakeState (§5.3),
for DH ``25519``, ciphers ``ChaChaPoly`` and ``AESGCM`` (AES-256-GCM, §12.4's big-endian nonce),
hashes ``BLAKE2s``/``SHA256``/``BLAKE2b``/``SHA512``, KEMs ``MLKEM768`` and ``MLKEM1024`` behind
``hfs``, with any pattern of :mod:`hotline.proto.patterns` and the ``pskN`` and ``hfs`` modifiers.

This module is sans-IO: ephemeral keys come in as arguments (or are drawn through
:mod:`hotline.crypto` by the caller), and the KEM is an injected :class:`~hotline.crypto.mlkem.Kem`
so golden transcripts can fix its randomness. Every failure to read a message raises
:class:`NoiseError`, one opaque type, and leaves the caller to drop the handshake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hotline.crypto.aead import CHACHAPOLY, Aead, AeadKey, aead
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import BLOCK_LEN, HASH_LEN, HashName, digest, hmac_digest
from hotline.crypto.mlkem import MLKEM768, Kem
from hotline.crypto.mlkem import kem as kem_by_name
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.patterns import HandshakePattern, parse_pattern

DHLEN = 32
MAX_MESSAGE_LEN = 65535
MAX_NONCE = 2**64 - 1  # reserved by §5.1; using it is an error
_ZEROLEN = b""
_ZEROS32 = bytes(32)
#: The KEMs ``hfs`` may name (hfs spec rev 1 leaves the KEM open; these are FIPS 203's two upper sets).
KEMS = frozenset({"MLKEM768", "MLKEM1024"})


class NoiseError(Exception):
    """A handshake or transport message was rejected. Deliberately says nothing more precise."""


@dataclass(frozen=True, slots=True)
class NoiseProtocol:
    """A parsed protocol name: ``Noise_<pattern>_<dh>[+<kem>]_<cipher>_<hash>``."""

    name: str
    pattern: HandshakePattern
    dh: str
    kem: str | None
    cipher: str
    hash: HashName

    @classmethod
    def from_name(cls, name: str) -> NoiseProtocol:
        """Parse and check a protocol name. Raises :class:`ValueError` for what we do not support."""
        parts = name.split("_")
        if len(parts) != 5 or parts[0] != "Noise":
            raise ValueError(f"not a Noise protocol name: {name!r}")
        _, pattern_name, dh_part, cipher, hash_name = parts
        dh, plus, kem = dh_part.partition("+")
        if plus and not kem:
            raise ValueError("an empty KEM name after '+'")
        pattern = parse_pattern(pattern_name)
        if dh != "25519":
            raise ValueError(f"unsupported DH {dh!r}")
        aead(cipher)  # raises ValueError for a cipher we do not have
        if hash_name not in HASH_LEN:
            raise ValueError(f"unsupported hash {hash_name!r}")
        if pattern.has_hfs != bool(kem):
            raise ValueError("the hfs modifier and a KEM name go together")
        if kem and kem not in KEMS:
            raise ValueError(f"unsupported KEM {kem!r}")
        return cls(name, pattern, dh, kem or None, cipher, hash_name)

    @property
    def aead(self) -> Aead:
        """The AEAD the cipher name stands for."""
        return aead(self.cipher)


class CipherState:
    """Noise §5.1: a key ``k`` (or none) and a 64-bit nonce ``n``. Not safe for concurrent use.

    ``aead`` is the protocol's cipher (ChaChaPoly unless given): it makes the key and encodes ``n``.
    """

    __slots__ = ("_aead", "_key", "_nonce", "n")

    def __init__(self, key: bytes | None = None, aead: Aead = CHACHAPOLY) -> None:
        self._aead = aead
        self._nonce = aead.nonce
        self._key: AeadKey | None = None
        self.n = 0
        self.initialize_key(key)

    @property
    def aead(self) -> Aead:
        """The cipher this state seals with."""
        return self._aead

    def initialize_key(self, key: bytes | None) -> None:
        """InitializeKey(key): set ``k`` and reset ``n``."""
        self._key = self._aead.key(key) if key is not None else None
        self.n = 0

    def has_key(self) -> bool:
        """HasKey()."""
        return self._key is not None

    @property
    def key(self) -> bytes | None:
        """The raw key, for Split() users that keep their own nonces."""
        return self._key.raw if self._key is not None else None

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """EncryptWithAd(ad, plaintext). Raises :class:`NoiseError` when the nonce is exhausted."""
        if self._key is None:
            return plaintext
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted")
        out = self._key.seal(self._nonce(self.n), ad, plaintext)
        self.n += 1
        return out

    def encrypt_with_ad_into(self, ad: bytes, plaintext: bytes | memoryview, out: memoryview) -> None:
        """EncryptWithAd into ``out`` (exactly ``len(plaintext) + 16`` bytes); needs a key."""
        if self._key is None:
            raise NoiseError("no key")
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted")
        self._key.seal_into(self._nonce(self.n), ad, plaintext, out)
        self.n += 1

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """DecryptWithAd(ad, ciphertext). ``n`` only advances on success (§5.1)."""
        if self._key is None:
            return bytes(ciphertext)
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted")
        try:
            out = self._key.open(self._nonce(self.n), ad, ciphertext)
        except CryptoError as exc:
            raise NoiseError("decryption failed") from exc
        self.n += 1
        return out

    def rekey(self) -> None:
        """Rekey() (§4.2): ``k = ENCRYPT(k, maxnonce, zerolen, zeros)[:32]``, ``n`` unchanged."""
        if self._key is None:
            return
        n = self.n
        self._key = self._aead.key(self._key.seal(self._nonce(MAX_NONCE), _ZEROLEN, _ZEROS32)[:32])
        self.n = n


class SymmetricState:
    """Noise §5.2: the chaining key ``ck``, the handshake hash ``h`` and a CipherState."""

    __slots__ = ("_aead", "_hash", "_hashlen", "cipher", "ck", "h")

    def __init__(self, protocol_name: bytes, hash_name: HashName, aead: Aead = CHACHAPOLY) -> None:
        self._aead = aead
        self._hash: HashName = hash_name
        self._hashlen = HASH_LEN[hash_name]
        # InitializeSymmetric: pad a short name with zeros, hash a long one
        if len(protocol_name) <= self._hashlen:
            self.h = protocol_name.ljust(self._hashlen, b"\x00")
        else:
            self.h = digest(hash_name, protocol_name)
        self.ck = self.h
        self.cipher = CipherState(aead=aead)

    def _hkdf(self, ikm: bytes, outputs: int) -> list[bytes]:
        # §4.3 HKDF(chaining_key, input_key_material, num_outputs)
        temp_key = hmac_digest(self._hash, self.ck, ikm)
        out: list[bytes] = []
        prev = b""
        for i in range(1, outputs + 1):
            prev = hmac_digest(self._hash, temp_key, prev + bytes([i]))
            out.append(prev)
        return out

    def mix_key(self, ikm: bytes) -> None:
        """MixKey(input_key_material)."""
        self.ck, temp_k = self._hkdf(ikm, 2)
        self.cipher.initialize_key(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        """MixHash(data)."""
        self.h = digest(self._hash, self.h + data)

    def mix_key_and_hash(self, ikm: bytes) -> None:
        """MixKeyAndHash(input_key_material), used by the ``psk`` token."""
        self.ck, temp_h, temp_k = self._hkdf(ikm, 3)
        self.mix_hash(temp_h)
        self.cipher.initialize_key(temp_k[:32])

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        """EncryptAndHash(plaintext)."""
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        """DecryptAndHash(ciphertext)."""
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        """Split(): the two transport CipherStates, initiator-to-responder first."""
        k1, k2 = self._hkdf(_ZEROLEN, 2)
        return CipherState(k1[:32], self._aead), CipherState(k2[:32], self._aead)

    @property
    def block_len(self) -> int:
        """The hash's block length (kept for completeness of §4.3)."""
        return BLOCK_LEN[self._hash]


@dataclass(slots=True)
class KemKeyPair:
    """An hfs ephemeral KEM key pair: the KEM's private state and the encoded public key."""

    private: bytes
    public: bytes


class HandshakeState:
    """Noise §5.3 plus the hfs tokens. Drive it with :meth:`write_message` / :meth:`read_message`
    alternately until :attr:`complete`; then :meth:`split`. Not safe for concurrent use.

    Args:
        protocol: the parsed protocol name.
        initiator: our role.
        prologue: bound into ``h`` before any message.
        s: our static key, if the pattern has one.
        e: our ephemeral key, injected (vectors, golden transcripts) or drawn by ``new_ephemeral``.
        rs: the peer's static public key, if known in advance.
        re: the peer's ephemeral public key (pre-message patterns only).
        psks: pre-shared keys, consumed in order by ``psk`` tokens.
        kem: the KEM behind ``e1``/``ekem1``; defaults to the protocol name's KEM drawing from the OS
            CSPRNG. An injected one must carry the protocol name's KEM name.
        e1: our KEM ephemeral key pair, injected; else generated through ``kem``.
        new_ephemeral: draws an X25519 key when ``e`` is not injected.
    """

    def __init__(
        self,
        protocol: NoiseProtocol,
        *,
        initiator: bool,
        prologue: bytes = b"",
        s: X25519PrivateKey | None = None,
        e: X25519PrivateKey | None = None,
        rs: X25519PublicKey | None = None,
        re: X25519PublicKey | None = None,
        psks: list[bytes] | None = None,
        kem: Kem | None = None,
        e1: KemKeyPair | None = None,
        new_ephemeral: Callable[[], X25519PrivateKey] = X25519PrivateKey.generate,
    ) -> None:
        self.protocol = protocol
        self.initiator = initiator
        self.s = s
        self.e = e
        self.rs = rs
        self.re = re
        self._psks = list(psks or [])
        if kem is not None and protocol.kem is not None and kem.name != protocol.kem:
            raise ValueError(f"a {kem.name} KEM for a {protocol.kem} protocol")
        if kem is None:
            kem = kem_by_name(protocol.kem) if protocol.kem is not None else MLKEM768()
        self._kem: Kem = kem
        self.e1 = e1
        self.re1: bytes | None = None
        self._new_ephemeral = new_ephemeral
        self._pattern = protocol.pattern
        self._index = 0
        self.symmetric = SymmetricState(protocol.name.encode("ascii"), protocol.hash, protocol.aead)
        self.symmetric.mix_hash(prologue)
        # pre-messages, initiator's first (§7.1); in PSK handshakes "e" also calls MixKey (§9.2)
        for owner_is_initiator, tokens in (
            (True, self._pattern.initiator_pre),
            (False, self._pattern.responder_pre),
        ):
            ours = owner_is_initiator == initiator
            for token in tokens:
                key = self._pre_key(token, ours)
                self.symmetric.mix_hash(key)
                if token == "e" and self._pattern.has_psk:
                    self.symmetric.mix_key(key)

    def _pre_key(self, token: str, ours: bool) -> bytes:
        # our own pre-message key must be ours: never fall back to the peer's
        if token == "s":
            key = (self.s.public_key() if self.s else None) if ours else self.rs
        elif token == "e":
            key = (self.e.public_key() if self.e else None) if ours else self.re
        else:
            raise ValueError(f"pre-message token {token!r}")
        if key is None:
            raise ValueError(f"pre-message needs {'our' if ours else 'their'} {token}")
        return key.raw

    @property
    def complete(self) -> bool:
        """True once every message of the pattern has been written or read."""
        return self._index >= len(self._pattern.messages)

    @property
    def handshake_hash(self) -> bytes:
        """``h``: after completion, a unique, binding name for this session (channel binding)."""
        return self.symmetric.h

    def is_my_turn(self) -> bool:
        """Whether the next message is ours to write."""
        return (self._index % 2 == 0) == self.initiator

    # -- writing ---------------------------------------------------------------------------------

    def write_message(self, payload: bytes = b"") -> bytes:
        """WriteMessage(payload): the next handshake message.

        Raises:
            NoiseError: out of turn, after completion, or a DH with a low-order point.
        """
        if self.complete or not self.is_my_turn():
            raise NoiseError("not our turn to write")
        sym = self.symmetric
        out = bytearray()
        for token in self._pattern.messages[self._index]:
            if token == "e":
                if self.e is None:
                    self.e = self._new_ephemeral()
                pub = self.e.public_key().raw
                out += pub
                sym.mix_hash(pub)
                if self._pattern.has_psk:
                    sym.mix_key(pub)
            elif token == "s":
                if self.s is None:
                    raise NoiseError("pattern needs our static key")
                out += sym.encrypt_and_hash(self.s.public_key().raw)
            elif token in ("ee", "es", "se", "ss"):
                sym.mix_key(self._dh(token))
            elif token == "psk":
                sym.mix_key_and_hash(self._next_psk())
            elif token == "e1":
                # generate the KEM ephemeral; send it like a static key
                if self.e1 is None:
                    private, public = self._kem.generate()
                    self.e1 = KemKeyPair(private, public)
                out += sym.encrypt_and_hash(self.e1.public)
            elif token == "ekem1":
                # encapsulate to the peer's KEM ephemeral, send the ciphertext, mix the secret
                if self.re1 is None:
                    raise NoiseError("no KEM key to encapsulate to")
                try:
                    secret, ciphertext = self._kem.encapsulate(self.re1)
                except CryptoError as exc:
                    raise NoiseError("KEM encapsulation failed") from exc
                out += sym.encrypt_and_hash(ciphertext)
                sym.mix_key(secret)
        # the payload is the last thing written, so its size is known before the state moves on
        tag = 16 if sym.cipher.has_key() else 0
        if len(out) + len(payload) + tag > MAX_MESSAGE_LEN:
            raise NoiseError("handshake message too long")
        out += sym.encrypt_and_hash(payload)
        self._index += 1
        return bytes(out)

    # -- reading ---------------------------------------------------------------------------------

    def read_message(self, message: bytes) -> bytes:
        """ReadMessage(message): consume the peer's next handshake message, return its payload.

        Raises:
            NoiseError: on any malformed, truncated, forged or out-of-turn message.
        """
        if self.complete or self.is_my_turn():
            raise NoiseError("not our turn to read")
        if len(message) > MAX_MESSAGE_LEN:
            raise NoiseError("handshake message too long")
        sym = self.symmetric
        view = memoryview(message)
        pos = 0

        def take(n: int) -> bytes:
            nonlocal pos
            if pos + n > len(view):
                raise NoiseError("handshake message truncated")
            chunk = bytes(view[pos : pos + n])
            pos += n
            return chunk

        tag = 16 if sym.cipher.has_key() else 0
        for token in self._pattern.messages[self._index]:
            tag = 16 if sym.cipher.has_key() else 0
            if token == "e":
                raw = take(DHLEN)
                self.re = X25519PublicKey.from_bytes(raw)
                sym.mix_hash(raw)
                if self._pattern.has_psk:
                    sym.mix_key(raw)
            elif token == "s":
                raw = sym.decrypt_and_hash(take(DHLEN + tag))
                self.rs = X25519PublicKey.from_bytes(raw)
            elif token in ("ee", "es", "se", "ss"):
                sym.mix_key(self._dh(token))
            elif token == "psk":
                sym.mix_key_and_hash(self._next_psk())
            elif token == "e1":
                self.re1 = sym.decrypt_and_hash(take(self._kem.public_key_len + tag))
            elif token == "ekem1":
                # decapsulate ML-KEM with our KEM ephemeral, mix the secret
                ciphertext = sym.decrypt_and_hash(take(self._kem.ciphertext_len + tag))
                if self.e1 is None:
                    raise NoiseError("no KEM key to decapsulate with")
                try:
                    secret = self._kem.decapsulate(self.e1.private, ciphertext)
                except CryptoError as exc:
                    raise NoiseError("KEM decapsulation failed") from exc
                sym.mix_key(secret)
        payload = sym.decrypt_and_hash(bytes(view[pos:]))
        self._index += 1
        return payload

    # -- helpers ---------------------------------------------------------------------------------

    def _dh(self, token: str) -> bytes:
        # "es" is DH(e, rs) for the initiator and DH(s, re) for the responder; likewise "se"
        mine, theirs = token[0], token[1]
        if not self.initiator and token in ("es", "se"):
            mine, theirs = theirs, mine
        local = self.e if mine == "e" else self.s
        remote = self.re if theirs == "e" else self.rs
        if local is None or remote is None:
            raise NoiseError(f"missing key for {token}")
        try:
            return local.exchange(remote)
        except CryptoError as exc:
            raise NoiseError("DH failed") from exc

    def push_psk(self, psk: bytes) -> None:
        """Add a pre-shared key once it is known (a responder learns the peer from message 1)."""
        self._psks.append(psk)

    def _next_psk(self) -> bytes:
        if not self._psks:
            raise NoiseError("pattern needs a pre-shared key")
        psk = self._psks.pop(0)
        if len(psk) != 32:
            raise NoiseError("a Noise PSK is 32 bytes")
        return psk

    def split(self) -> tuple[CipherState, CipherState]:
        """Split() after completion: returns (send, receive) CipherStates for our role."""
        if not self.complete:
            raise NoiseError("handshake not complete")
        c1, c2 = self.symmetric.split()
        return (c1, c2) if self.initiator else (c2, c1)
