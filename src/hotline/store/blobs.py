"""A document's bytes at rest: a file of sealed chunks beside the store.

Each received document has a file and a key of its own, both drawn at random when its row is made
(:mod:`hotline.store.documents`): no other document, on this line or another, can name its file or
share its key, so a peer that reuses a document id reaches nothing of another document.

Chunk ``i`` (:data:`hotline.proto.document.CHUNK` bytes, the last one shorter) is sealed with the
line's AEAD (ChaCha20-Poly1305 on ``standard`` lines, AES-256-GCM on ``cnsa2`` ones; the row says
which, files from before schema version 4 are all ChaCha20-Poly1305) under that key, with a fresh
random 96-bit nonce for every write and the document
id and chunk index as associated data, and written as ``nonce ‖ ciphertext`` at ``i * SLOT``. So a
chunk can be written and read on its own, in place; a resumed transfer that writes a chunk again (the
sender may send other bytes the second time) never seals two plaintexts under one nonce; and a chunk
moved to another place or document does not open. The file holds no plaintext and its name is
random, never a name or id the sender chose.

Stores made before schema version 3 hold *legacy* blobs: named ``<doc id>.in``, keyed from the store
key and the document id, nonce ``i``, no nonce in the file. They are only ever read, never written.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Sequence
from pathlib import Path

from hotline.crypto.aead import NONCE_LEN, TAG_LEN, aead, noise_nonce
from hotline.crypto.errors import CryptoError
from hotline.crypto.random import random_bytes
from hotline.proto.document import CHUNK
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull

#: Bytes on disk per full chunk: nonce, ciphertext, tag.
SLOT = NONCE_LEN + CHUNK + TAG_LEN
#: The same for a legacy blob (no nonce stored).
LEGACY_SLOT = CHUNK + TAG_LEN
#: Fresh nonces drawn from the system at a time (each used once, for one chunk).
NONCE_BATCH = 256
#: ``posix_fadvise``'s "not needed" advice, where the system has it.
_DONTNEED: int | None = getattr(os, "POSIX_FADV_DONTNEED", None)
#: Kept for callers that size a received document on disk.
SEALED_CHUNK = SLOT


def sealed_size(size: int, *, legacy: bool = False) -> int:
    """Bytes on disk for a document of ``size`` bytes."""
    full, rest = divmod(size, CHUNK)
    overhead = TAG_LEN if legacy else NONCE_LEN + TAG_LEN
    return full * (CHUNK + overhead) + (rest + overhead if rest else 0)


class Blob:
    """One document's sealed chunks in one file. Not thread-safe.

    ``create``: open for writing, making the file with ``O_CREAT | O_EXCL`` when it does not exist
    yet (its name is the row's own random one, so an existing file is this row's, from before a
    restart); otherwise open an existing file read-only. Symbolic links are never followed.
    ``cipher``: the AEAD's Noise name (``ChaChaPoly``, ``AESGCM``); a legacy blob is ChaChaPoly.
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        doc_id: bytes,
        *,
        legacy: bool = False,
        create: bool = False,
        cipher: str = "ChaChaPoly",
    ) -> None:
        self.path = path
        if legacy and cipher != "ChaChaPoly":
            raise StoreError(f"{path.name} is a legacy blob: its chunks are ChaCha20-Poly1305")
        self._cipher = aead(cipher).key(key)
        self._doc_id = doc_id
        self._legacy = legacy
        self._slot = LEGACY_SLOT if legacy else SLOT
        self._buffer = bytearray(0 if legacy else SLOT)
        self._nonces = memoryview(b"")
        if legacy and create:
            raise StoreError(f"{path.name} is a legacy blob: it is read, never written again")
        old = os.umask(0o077)
        try:
            if create:
                path.parent.mkdir(mode=0o700, exist_ok=True)
                try:
                    self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                except FileExistsError:
                    self._fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            else:
                self._fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise _store_error(path, exc) from None
        finally:
            os.umask(old)

    def _ad(self, index: int) -> bytes:
        return self._doc_id + index.to_bytes(8, "big")

    def write(self, index: int, data: bytes) -> None:
        """Seal chunk ``index`` under a fresh random nonce and write it in its place.

        Raises:
            StoreFull: no room on the disk.
            StoreError: any other failure to write.
        """
        self.write_run(index, [data])

    def write_run(self, index: int, chunks: Sequence[bytes | memoryview]) -> None:
        """Seal consecutive chunks ``index``, ``index + 1``, … each under a fresh random nonce and
        write them in their places with one system call. Every chunk but the last is a full one.

        One write of many slots, not one per chunk: the kernel copies the run into the page cache in
        whole pages (adjacent slots share pages), which costs about half as much CPU per byte.

        Raises:
            StoreFull: no room on the disk (some of the run may be written: it is written again).
            StoreError: any other failure to write.
        """
        if self._legacy:
            raise StoreError(f"{self.path.name} is a legacy blob: it is read, never written again")
        size = 0
        for at, data in enumerate(chunks):
            if len(data) > CHUNK or (len(data) < CHUNK and at != len(chunks) - 1):
                raise StoreError(f"a chunk of {len(data)} bytes does not fit {self.path.name}")
            size += NONCE_LEN + len(data) + TAG_LEN
        if size > len(self._buffer):
            self._buffer = bytearray(size)
        # sealed in place after each nonce: no copy of a chunk on the way to the disk
        with memoryview(self._buffer)[:size] as sealed:
            pos = 0
            for at, data in enumerate(chunks):
                if not self._nonces:
                    # one draw from the system for many chunks: a syscall per chunk showed in profiles
                    self._nonces = memoryview(random_bytes(NONCE_LEN * NONCE_BATCH))
                nonce, self._nonces = bytes(self._nonces[:NONCE_LEN]), self._nonces[NONCE_LEN:]
                end = pos + NONCE_LEN + len(data) + TAG_LEN
                sealed[pos : pos + NONCE_LEN] = nonce
                self._cipher.seal_into(nonce, self._ad(index + at), data, sealed[pos + NONCE_LEN : end])
                pos = end
            try:
                written = os.pwrite(self._fd, sealed, index * self._slot)
            except OSError as exc:
                raise _store_error(self.path, exc) from None
        if written != size:
            raise StoreFull(f"short write to {self.path}: the disk is full")

    def read(self, index: int, length: int) -> bytes:
        """Chunk ``index``, of ``length`` plaintext bytes.

        Raises:
            StoreCorrupt: it does not open (altered, moved, or never written).
        """
        stored = length + TAG_LEN + (0 if self._legacy else NONCE_LEN)
        try:
            sealed = os.pread(self._fd, stored, index * self._slot)
        except OSError as exc:
            raise _store_error(self.path, exc) from None
        if self._legacy:
            nonce, body = noise_nonce(index), sealed
        else:
            nonce, body = sealed[:NONCE_LEN], sealed[NONCE_LEN:]
        try:
            if len(sealed) != stored:
                raise CryptoError("short")
            return self._cipher.open(nonce, self._ad(index), body)
        except CryptoError:
            raise StoreCorrupt(
                f"chunk {index} of {self.path.name} does not decrypt: the file is damaged"
            ) from None

    def sync(self) -> None:
        """Make what was written durable, then let the kernel drop it from the page cache.

        The file is sealed and read back only after a restart: its pages serve no one once durable.
        Dropped, they are reused for the next writes; kept, every write takes fresh pages, which on
        virtual machines whose host reclaims the guest's free memory cost several times the copy
        itself (about 4 CPU s per GiB written, against 0.5, in the benchmark's profiles).
        """
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise _store_error(self.path, exc) from None
        if _DONTNEED is not None:
            # only clean pages go: what was written since the fsync stays until the next one
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._fd, 0, 0, _DONTNEED)

    def truncate(self, size: int) -> None:
        """Drop everything after the first ``size`` plaintext bytes' chunks."""
        try:
            os.ftruncate(self._fd, sealed_size(size, legacy=self._legacy))
        except OSError as exc:
            raise _store_error(self.path, exc) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _store_error(path: Path, exc: OSError) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"no room for {path.name}: the disk is full")
    if exc.errno == errno.ELOOP:
        return StoreError(f"{path} is a symbolic link: a document's file never is; move it aside")
    return StoreError(f"cannot use {path}: {exc.strerror or exc}")


__all__ = ["LEGACY_SLOT", "SEALED_CHUNK", "SLOT", "Blob", "sealed_size"]
