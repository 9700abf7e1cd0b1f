"""The AEAD's share of bulk cost: seal and open of one full record, with the cipher Hotline uses
(ChaCha20-Poly1305) and the one the TLS 1.3 baseline negotiated (AES-256-GCM), both through pyca
on the same machine in the same run. Bulk throughput on a CPU with AES instructions is bounded by
this difference, not by the protocol around it."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

RECORD = 65518


def seal_open_us(cipher: str, size: int = RECORD, rounds: int = 2000) -> float:
    """Microseconds to seal and then open one ``size``-byte plaintext (best of 3)."""
    aead = ChaCha20Poly1305(os.urandom(32)) if cipher == "ChaCha20-Poly1305" else AESGCM(os.urandom(32))
    nonce = bytes(12)
    plaintext = os.urandom(size)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            aead.decrypt(nonce, aead.encrypt(nonce, plaintext, b"h"), b"h")
        best = min(best, (time.perf_counter() - start) / rounds * 1e6)
    return best


CIPHERS = ("ChaCha20-Poly1305", "AES-256-GCM")
