"""The passphrase policy (F11): a station's key file is only as strong as the passphrase sealing it.

The adversary may copy the disk and then guess offline, as fast as it can run Argon2id (docs/protocol.md
§8.6). We judge a passphrase with zxcvbn's estimate of the guesses an attacker who knows how people
choose passwords would need (dictionaries, names, keyboard walks, dates, l33t, repeats), fed the
station's own name and the product's words too. A rule of length and character classes was the other
candidate; it was not chosen because it rates what people actually type backwards: ``P@ssw0rd2024!``
passes any such rule and falls to the first dictionary, while five random lower-case words fail
"needs a digit" and are far stronger.

The bar is :data:`MIN_GUESSES_LOG10`: 10^15 guesses. At the standard cost (about 0.2 s of a core per
guess, 64 MiB each) a million cores spend over six years on average to get there; five random words
from a 7776-word list are about 10^19.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

__all__ = ["ADVICE", "MIN_GUESSES_LOG10", "passphrase_problem"]

#: The estimate a passphrase must reach, as log10 of the guesses.
MIN_GUESSES_LOG10 = 15.0
#: The longest input zxcvbn takes; a longer passphrase is judged in pieces this long, whose estimates
#: multiply (an attacker must find each piece).
_PIECE_LEN = 72
#: What makes a good passphrase, for every refusal.
ADVICE = (
    "a good one is five or more words chosen at random (dice and a word list, not a phrase you know), "
    "used nowhere else"
)
_CONTEXT = ("hotline", "station", "passphrase", "password", "secret")


def passphrase_problem(passphrase: str, *, context: tuple[str, ...] = ()) -> str | None:
    """Why ``passphrase`` is too weak to seal a station's keys, or None when it is strong enough.

    Args:
        context: words an attacker would try first (the station's name, its peers').

    The reason never quotes the passphrase; :data:`ADVICE` says what to choose instead.
    """
    inputs = [*_CONTEXT, *context]
    pieces = [passphrase[i : i + _PIECE_LEN] for i in range(0, len(passphrase), _PIECE_LEN)] or [""]
    results = [zxcvbn(piece, user_inputs=inputs) for piece in pieces]
    guesses = sum(float(result["guesses_log10"]) for result in results)
    if guesses >= MIN_GUESSES_LOG10:
        return None
    feedback = results[0].get("feedback") or {}
    hint = str(feedback.get("warning") or "").rstrip(".")
    hint = f" ({hint.lower()})" if hint else ""
    return (
        f"the passphrase is too easy to guess{hint}: about 10^{guesses:.0f} guesses would find it, and "
        f"anyone with a copy of the disk can try them offline; at least 10^{MIN_GUESSES_LOG10:.0f} are "
        "needed"
    )
