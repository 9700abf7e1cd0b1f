"""The crypto layer: thin, typed wrappers over pyca ``cryptography`` (the only importer of it).

Nothing here composes a protocol; it only gives each primitive one safe shape and one opaque error,
:class:`CryptoError`.
"""

from hotline.crypto.errors import CryptoError

__all__ = ["CryptoError"]
