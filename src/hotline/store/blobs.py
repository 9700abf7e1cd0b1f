"""A document's bytes at rest: a file of sealed chunks beside the store.

Chunk ``i`` (:data:`hotline.proto.document.CHUNK` bytes, the last one shorter) is sealed with
ChaCha20-Poly1305 under the document's own key (:meth:`hotline.store.db.Store.blob_key`), with ``i``
as the nonce and the document id and chunk index as associated data, and written at
``i * (CHUNK + 16)``. So a chunk can be written and read on its own, in place, a resumed transfer
overwrites exactly what was not yet made durable, and a chunk moved to another place or document
does not open. The file holds no plaintext and its name is the document id, never a name the sender
chose.
"""

from __future__ import annotations

import os
from pathlib import Path

from hotline.crypto.aead import TAG_LEN, CipherKey, noise_nonce
from hotline.crypto.errors import CryptoError
from hotline.proto.document import CHUNK
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull

SEALED_CHUNK = CHUNK + TAG_LEN


def sealed_size(size: int) -> int:
    """Bytes on disk for a document of ``size`` bytes."""
    full, rest = divmod(size, CHUNK)
    return full * SEALED_CHUNK + (rest + TAG_LEN if rest else 0)


class Blob:
    """One document's sealed chunks in one file. Not thread-safe."""

    def __init__(self, path: Path, key: bytes, doc_id: bytes) -> None:
        self.path = path
        self._cipher = CipherKey(key)
        self._doc_id = doc_id
        old = os.umask(0o077)
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _store_error(path, exc) from None
        finally:
            os.umask(old)

    def _ad(self, index: int) -> bytes:
        return self._doc_id + index.to_bytes(8, "big")

    def write(self, index: int, data: bytes) -> None:
        """Seal and write chunk ``index``.

        Raises:
            StoreFull: no room on the disk.
            StoreError: any other failure to write.
        """
        sealed = self._cipher.seal(noise_nonce(index), self._ad(index), data)
        try:
            written = os.pwrite(self._fd, sealed, index * SEALED_CHUNK)
        except OSError as exc:
            raise _store_error(self.path, exc) from None
        if written != len(sealed):
            raise StoreFull(f"short write to {self.path}: the disk is full")

    def read(self, index: int, length: int) -> bytes:
        """Chunk ``index``, of ``length`` plaintext bytes.

        Raises:
            StoreCorrupt: it does not open (altered, moved, or never written).
        """
        try:
            sealed = os.pread(self._fd, length + TAG_LEN, index * SEALED_CHUNK)
        except OSError as exc:
            raise _store_error(self.path, exc) from None
        try:
            return self._cipher.open(noise_nonce(index), self._ad(index), sealed)
        except CryptoError:
            raise StoreCorrupt(
                f"chunk {index} of {self.path.name} does not decrypt: the file is damaged"
            ) from None

    def sync(self) -> None:
        """Make what was written durable."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise _store_error(self.path, exc) from None

    def truncate(self, size: int) -> None:
        """Drop everything after the first ``size`` plaintext bytes' chunks."""
        try:
            os.ftruncate(self._fd, sealed_size(size))
        except OSError as exc:
            raise _store_error(self.path, exc) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _store_error(path: Path, exc: OSError) -> StoreError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"no room for {path.name}: the disk is full")
    return StoreError(f"cannot use {path}: {exc.strerror or exc}")


__all__ = ["SEALED_CHUNK", "Blob", "sealed_size"]
