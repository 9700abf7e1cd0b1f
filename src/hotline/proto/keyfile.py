"""Key files: a station identity encrypted under a passphrase, the only way it touches a disk.

Format versions 1 and 2 (``docs/protocol.md`` §8.6); integers are big-endian::

    offset  size  field
         0     8  magic        89 48 4c 4b 45 59 0d 0a   ("\\x89HLKEY\\r\\n")
         8     1  version      01 or 02
         9     1  kdf          01 = Argon2id (RFC 9106, version 0x13)
        10     4  memory_kib   Argon2id memory, KiB
        14     4  iterations   Argon2id passes
        18     4  lanes        Argon2id parallelism
        22    16  salt
        38    12  nonce
        50     4  length       of the ciphertext that follows
        54     n  ciphertext   ChaCha20-Poly1305(key, nonce, ad = bytes 0..53, plaintext)
      54+n    16  checksum     BLAKE2s, 16-byte digest, over bytes 0..53+n

``key`` is Argon2id(passphrase, salt) with the stored parameters, 32 bytes. A ``str`` passphrase is
normalised to Unicode NFC and encoded as UTF-8 first, so the same words typed on another system open
the file. The plaintext is MessagePack: in version 1 ``[name: str, static_key: bin(32),
kem_seed: bin(64), signing_seed: bin(64)]``; in version 2 the same four and then the cnsa2 parts
``[mlkem1024_seed: bin(64), p384_key: bin(48), mldsa87_seed: bin(32)]`` as a fifth element. An
identity with cnsa2 keys is written as version 2, one without as version 1 (so a file rewritten
before its station adds cnsa2 keys stays readable by older stations); both are read.

Why each part:

* The magic's high byte and CR LF catch a file mangled by a text-mode transfer, as PNG's do.
* The header is the AEAD's associated data, so nobody can lower the stored cost parameters or swap the
  salt without the tag failing.
* The checksum is *not* a MAC (it has no key): it tells accidental damage ("the file is corrupt") from
  a wrong passphrase before spending the Argon2id time. A deliberate edit that also fixes the checksum
  fails the AEAD tag and is reported as a wrong passphrase; the error says so.
* The parameters we accept when opening are capped (2 GiB, 64 passes, 64 lanes) so a crafted file
  cannot make us allocate without bound.

Randomness: :func:`seal_identity` draws the salt and nonce through :mod:`hotline.crypto.random` when
they are not given.
"""

from __future__ import annotations

import struct
import unicodedata

import msgspec

from hotline.crypto.aead import NONCE_LEN, TAG_LEN, CipherKey
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import blake2s
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.crypto.random import random_bytes
from hotline.proto.identity import Cnsa2Parts, Identity
from hotline.proto.identity_errors import IdentityError, KeyFileCorrupt, KeyFileError, WrongPassphrase

MAGIC = b"\x89HLKEY\r\n"
#: The key file format of an identity without cnsa2 keys (read and written).
KEYFILE_VERSION_1 = 1
#: The key file format of an identity with cnsa2 keys (read and written).
KEYFILE_VERSION = 2
_VERSIONS = (KEYFILE_VERSION_1, KEYFILE_VERSION)
#: Identifier of Argon2id in the ``kdf`` byte.
KDF_ARGON2ID = 1
SALT_LEN = 16
CHECKSUM_LEN = 16
#: The default cost: RFC 9106 §4, second recommended option (64 MiB, 3 passes, 4 lanes).
DEFAULT_PARAMS = Argon2Params()
#: Caps on the parameters a file may ask for when it is opened.
MAX_MEMORY_KIB = 2 * 1024 * 1024
MAX_ITERATIONS = 64
MAX_LANES = 64
#: A key file is a few hundred bytes; anything much larger is not one.
MAX_KEYFILE_LEN = 64 * 1024

_HEADER = struct.Struct(">8sBBIII16s12sI")
HEADER_LEN = _HEADER.size

__all__ = [
    "DEFAULT_PARAMS",
    "KEYFILE_VERSION",
    "KEYFILE_VERSION_1",
    "KeyFileCorrupt",
    "KeyFileError",
    "WrongPassphrase",
    "kdf_params",
    "open_identity",
    "seal_identity",
    "upgrade_key_file",
]


class _Secrets(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    name: str
    static_key: bytes
    kem_seed: bytes
    signing_seed: bytes


class _Secrets2(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    name: str
    static_key: bytes
    kem_seed: bytes
    signing_seed: bytes
    cnsa2: tuple[bytes, bytes, bytes]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Secrets)
_DECODER_2 = msgspec.msgpack.Decoder(_Secrets2)


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    if isinstance(passphrase, str):
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return bytes(passphrase)


def seal_identity(
    identity: Identity,
    passphrase: str | bytes,
    params: Argon2Params = DEFAULT_PARAMS,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Encrypt ``identity`` under ``passphrase``: returns the key file's bytes.

    Args:
        identity: the station identity to store.
        passphrase: the operator's passphrase (a ``str`` is NFC-normalised, then UTF-8).
        params: the Argon2id cost, stored in the file; the default is RFC 9106's second option.
        salt: 16 bytes; drawn from the CSPRNG when omitted (tests pass it to pin the output).
        nonce: 12 bytes; drawn from the CSPRNG when omitted.

    Raises:
        KeyFileError: the passphrase is empty, or the salt or nonce has the wrong length.
    """
    secret = _passphrase_bytes(passphrase)
    if not secret:
        raise KeyFileError("the passphrase is empty")
    salt = random_bytes(SALT_LEN) if salt is None else salt
    nonce = random_bytes(NONCE_LEN) if nonce is None else nonce
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
        raise KeyFileError("a key file salt is 16 bytes and its nonce 12")
    static_key, kem_seed, signing_seed = identity.secret_parts
    cnsa2 = identity.cnsa2_parts
    if cnsa2 is None:
        version = KEYFILE_VERSION_1
        plaintext = _ENCODER.encode(_Secrets(identity.name, static_key, kem_seed, signing_seed))
    else:
        version = KEYFILE_VERSION
        parts = (cnsa2.kem_seed, cnsa2.seal_key, cnsa2.mldsa_seed)
        plaintext = _ENCODER.encode(_Secrets2(identity.name, static_key, kem_seed, signing_seed, parts))
    header = _HEADER.pack(
        MAGIC,
        version,
        KDF_ARGON2ID,
        params.memory_kib,
        params.iterations,
        params.lanes,
        salt,
        nonce,
        len(plaintext) + TAG_LEN,
    )
    # stretch the passphrase, then encrypt under the header
    key = CipherKey(derive_key(secret, salt, params))
    body = header + key.seal(nonce, header, plaintext)
    return body + blake2s(body, digest_size=CHECKSUM_LEN)


def kdf_params(data: bytes) -> Argon2Params | None:
    """The Argon2id costs a key file's header asks for, without the passphrase; None if unreadable.

    Only for showing the operator how the file is protected (``status``): :func:`open_identity`
    checks the whole file.
    """
    data = bytes(data[:HEADER_LEN])
    if len(data) < HEADER_LEN or data[: len(MAGIC)] != MAGIC or data[len(MAGIC)] not in _VERSIONS:
        return None
    (_, _, kdf, memory_kib, iterations, lanes, *_) = _HEADER.unpack_from(data)
    if kdf != KDF_ARGON2ID:
        return None
    try:
        return Argon2Params(memory_kib=memory_kib, iterations=iterations, lanes=lanes)
    except CryptoError:
        return None


def open_identity(data: bytes, passphrase: str | bytes) -> Identity:
    """Decrypt a key file made by :func:`seal_identity`.

    Raises:
        KeyFileCorrupt: not a Hotline key file, an unknown version, truncated, damaged, or asking for
            unreasonable Argon2id parameters.
        WrongPassphrase: the passphrase does not open it (or the file was deliberately altered).
    """
    data = bytes(data)
    # recognise the file
    if len(data) < len(MAGIC):
        if data and MAGIC.startswith(data):
            raise KeyFileCorrupt("key file is truncated")
        raise KeyFileCorrupt("not a Hotline key file" if data else "key file is empty")
    if data[: len(MAGIC)] != MAGIC:
        raise KeyFileCorrupt("not a Hotline key file")
    if len(data) > MAX_KEYFILE_LEN:
        raise KeyFileCorrupt("key file is far too large to be a key file")
    if len(data) < len(MAGIC) + 1:
        raise KeyFileCorrupt("key file is truncated")
    version = data[len(MAGIC)]
    if version not in _VERSIONS:
        raise KeyFileCorrupt(f"key file version {version} is not supported")
    if len(data) < HEADER_LEN:
        raise KeyFileCorrupt("key file is truncated")
    (_, _, kdf, memory_kib, iterations, lanes, salt, nonce, length) = _HEADER.unpack_from(data)
    if len(data) < HEADER_LEN + length + CHECKSUM_LEN:
        raise KeyFileCorrupt("key file is truncated")
    if len(data) > HEADER_LEN + length + CHECKSUM_LEN:
        raise KeyFileCorrupt("key file has trailing bytes after its end")
    # catch accidental damage before the slow part
    body, checksum = data[:-CHECKSUM_LEN], data[-CHECKSUM_LEN:]
    if blake2s(body, digest_size=CHECKSUM_LEN) != checksum:
        raise KeyFileCorrupt("key file is damaged (its checksum does not match)")
    if kdf != KDF_ARGON2ID:
        raise KeyFileCorrupt(f"key file uses an unknown key derivation ({kdf})")
    if memory_kib > MAX_MEMORY_KIB or iterations > MAX_ITERATIONS or lanes > MAX_LANES:
        raise KeyFileCorrupt("key file asks for more Argon2id memory or time than we allow")
    try:
        params = Argon2Params(memory_kib=memory_kib, iterations=iterations, lanes=lanes)
    except CryptoError:
        raise KeyFileCorrupt("key file has invalid Argon2id parameters") from None
    if length < TAG_LEN:
        raise KeyFileCorrupt("key file ciphertext is shorter than its tag")
    # stretch the passphrase and decrypt
    key = CipherKey(derive_key(_passphrase_bytes(passphrase), salt, params))
    try:
        plaintext = key.open(nonce, data[:HEADER_LEN], body[HEADER_LEN:])
    except CryptoError:
        raise WrongPassphrase(
            "the passphrase does not open this key file (or the file was deliberately altered)"
        ) from None
    # read what was inside; only a forger holding the passphrase could get here with bad content
    try:
        secrets: _Secrets | _Secrets2
        secrets = _DECODER.decode(plaintext) if version == KEYFILE_VERSION_1 else _DECODER_2.decode(plaintext)
    except (msgspec.DecodeError, ValueError):
        raise KeyFileCorrupt("key file contents are malformed") from None
    try:
        return Identity.from_parts(
            secrets.name,
            static_key=secrets.static_key,
            kem_seed=secrets.kem_seed,
            signing_seed=secrets.signing_seed,
            cnsa2=secrets.cnsa2 if isinstance(secrets, _Secrets2) else None,
        )
    except (IdentityError, CryptoError) as exc:
        raise KeyFileCorrupt(f"key file contents are invalid: {exc}") from None


def upgrade_key_file(
    data: bytes, passphrase: str | bytes, parts: Cnsa2Parts | None = None
) -> tuple[Identity, bytes | None]:
    """Open a key file and, if its identity has no cnsa2 keys, add them and seal it again.

    The new file (version 2) keeps the old one's Argon2id costs and passphrase, with a fresh salt and
    nonce; the standard keys, and so the station's store key and every standard pin, are unchanged.
    The caller replaces the file atomically.

    Args:
        data: the key file's bytes.
        passphrase: its passphrase.
        parts: the cnsa2 parts to add; drawn fresh (:meth:`Cnsa2Parts.generate`) when omitted.

    Returns:
        ``(identity, new_file)``: the identity with cnsa2 keys, and the bytes to write, or None when
        the file held cnsa2 keys already (nothing to write).

    Raises:
        KeyFileCorrupt, WrongPassphrase: as :func:`open_identity`.
    """
    identity = open_identity(data, passphrase)
    if identity.cnsa2 is not None:
        return identity, None
    params = kdf_params(data)
    assert params is not None  # open_identity read the same header
    upgraded = identity.with_cnsa2(Cnsa2Parts.generate() if parts is None else parts)
    return upgraded, seal_identity(upgraded, passphrase, params)
