"""The one exception the crypto layer raises for bad input.

It is deliberately opaque (compare pyca's ``InvalidToken``): a failed tag check, a low-order point
and a malformed key all look alike to the caller, so nothing upstream can turn the distinction into an
oracle.
"""


class CryptoError(Exception):
    """A key, ciphertext, signature or shared secret was rejected."""
