"""Exceptions for station identities, cards, line keys and key files.

Every rejection in these modules is one exception carrying one human-readable ``reason``, written for
the operator who will read it ("card signature does not verify"), never a traceback from a parser.
They all derive from :class:`IdentityError` so a caller can catch the family.

These describe local input (a file, a pasted card, a sealed blob an operator carried across), not an
authenticated peer breaking the protocol, so they stay outside the session's wire error codes.
"""

from hotline.proto.errors import HotlineError


class IdentityError(HotlineError):
    """Something about a station identity, card, line key or key file was refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        #: What was wrong, in one sentence for a human.
        self.reason = reason


class CardError(IdentityError):
    """A station card (binary or armored) was refused: malformed, altered or wrongly signed."""


class LineKeyError(IdentityError):
    """A sealed line key was refused: not signed by the sender, not for us, or damaged."""


class KeyFileError(IdentityError):
    """A key file could not be opened; see the two subclasses."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open this key file (or the file was deliberately altered)."""


class KeyFileCorrupt(KeyFileError):
    """The key file is not a Hotline key file, is of an unknown version, truncated or damaged."""
