"""Noise handshake patterns (Noise spec rev 34 §7, §9, §10.2; hfs spec rev 1 §5) as data.

A pattern is written in the spec's own notation and parsed once; modifiers (``pskN``, ``hfs``) are
applied as transformations of the parsed token lists, so ``IKpsk2+hfs`` is derived from ``IK`` by the
same rules a reader can check against the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Tokens a message pattern may hold.
TOKENS = frozenset({"e", "s", "ee", "es", "se", "ss", "psk", "e1", "ekem1"})

#: The spec's patterns in its notation. ``<-`` lines before ``...`` are pre-messages.
BASE_PATTERNS: dict[str, str] = {
    # one-way (§7.4)
    "N": "<- s\n...\n-> e, es",
    "K": "-> s\n<- s\n...\n-> e, es, ss",
    "X": "<- s\n...\n-> e, es, s, ss",
    # fundamental interactive (§7.5)
    "NN": "-> e\n<- e, ee",
    "NK": "<- s\n...\n-> e, es\n<- e, ee",
    "NX": "-> e\n<- e, ee, s, es",
    "XN": "-> e\n<- e, ee\n-> s, se",
    "XK": "<- s\n...\n-> e, es\n<- e, ee\n-> s, se",
    "XX": "-> e\n<- e, ee, s, es\n-> s, se",
    "KN": "-> s\n...\n-> e\n<- e, ee, se",
    "KK": "-> s\n<- s\n...\n-> e, es, ss\n<- e, ee, se",
    "KX": "-> s\n...\n-> e\n<- e, ee, se, s, es",
    "IN": "-> e, s\n<- e, ee, se",
    "IK": "<- s\n...\n-> e, es, s, ss\n<- e, ee, se",
    "IX": "-> e, s\n<- e, ee, se, s, es",
    # deferred (§7.6)
    "NK1": "<- s\n...\n-> e\n<- e, ee, es",
    "NX1": "-> e\n<- e, ee, s\n-> es",
    "X1N": "-> e\n<- e, ee\n-> s\n<- se",
    "X1K": "<- s\n...\n-> e, es\n<- e, ee\n-> s\n<- se",
    "XK1": "<- s\n...\n-> e\n<- e, ee, es\n-> s, se",
    "X1K1": "<- s\n...\n-> e\n<- e, ee, es\n-> s\n<- se",
    "X1X": "-> e\n<- e, ee, s, es\n-> s\n<- se",
    "XX1": "-> e\n<- e, ee, s\n-> es, s, se",
    "X1X1": "-> e\n<- e, ee, s\n-> es, s\n<- se",
    "K1N": "-> s\n...\n-> e\n<- e, ee\n-> se",
    "K1K": "-> s\n<- s\n...\n-> e, es\n<- e, ee\n-> se",
    "KK1": "-> s\n<- s\n...\n-> e\n<- e, ee, se, es",
    "K1K1": "-> s\n<- s\n...\n-> e\n<- e, ee, es\n-> se",
    "K1X": "-> s\n...\n-> e\n<- e, ee, s, es\n-> se",
    "KX1": "-> s\n...\n-> e\n<- e, ee, se, s\n-> es",
    "K1X1": "-> s\n...\n-> e\n<- e, ee, s\n-> se, es",
    "I1N": "-> e, s\n<- e, ee\n-> se",
    "I1K": "<- s\n...\n-> e, es, s\n<- e, ee\n-> se",
    "IK1": "<- s\n...\n-> e, s\n<- e, ee, se, es",
    "I1K1": "<- s\n...\n-> e, s\n<- e, ee, es\n-> se",
    "I1X": "-> e, s\n<- e, ee, s, es\n-> se",
    "IX1": "-> e, s\n<- e, ee, se, s\n-> es",
    "I1X1": "-> e, s\n<- e, ee, s\n-> se, es",
}


@dataclass(frozen=True, slots=True)
class HandshakePattern:
    """A parsed, modified pattern. Message ``i`` is sent by the initiator when ``i`` is even."""

    #: Full name as it appears in the protocol name, e.g. ``IKpsk2+hfs``.
    name: str
    #: Tokens the initiator's pre-message holds (``e``/``s``).
    initiator_pre: tuple[str, ...]
    #: Tokens the responder's pre-message holds.
    responder_pre: tuple[str, ...]
    #: Token lists of the handshake messages in order.
    messages: tuple[tuple[str, ...], ...]
    #: Whether any ``psk`` modifier is present (changes ``e`` handling, spec §9.2).
    has_psk: bool
    #: Whether the ``hfs`` modifier is present (needs a KEM in the protocol name).
    has_hfs: bool

    @property
    def one_way(self) -> bool:
        """One-way patterns (N, K, X) have a single message."""
        return len(self.messages) == 1


def _parse(text: str) -> tuple[tuple[str, ...], tuple[str, ...], list[list[str]]]:
    lines = [line.strip() for line in text.strip().splitlines()]
    init_pre: tuple[str, ...] = ()
    resp_pre: tuple[str, ...] = ()
    if "..." in lines:
        cut = lines.index("...")
        for line in lines[:cut]:
            arrow, _, rest = line.partition(" ")
            tokens = tuple(t.strip() for t in rest.split(","))
            if arrow == "->":
                init_pre = tokens
            else:
                resp_pre = tokens
        lines = lines[cut + 1 :]
    messages: list[list[str]] = []
    for i, line in enumerate(lines):
        arrow, _, rest = line.partition(" ")
        expected = "->" if i % 2 == 0 else "<-"
        if arrow != expected:
            raise ValueError(f"pattern message {i} must start with {expected}")
        messages.append([t.strip() for t in rest.split(",") if t.strip()])
    return init_pre, resp_pre, messages


def _apply_psk(messages: list[list[str]], n: int) -> None:
    # Noise §9.3: psk0 puts "psk" at the start of the first message, pskN at the end of message N.
    if n == 0:
        messages[0].insert(0, "psk")
    elif n <= len(messages):
        messages[n - 1].append("psk")
    else:
        raise ValueError(f"psk{n} is past the last message")


def _apply_hfs(messages: list[list[str]]) -> None:
    # hfs spec rev 1 §5: "e1" directly after the first "e", unless a DH follows in the same message,
    # in which case directly after that DH (so the KEM key is encrypted); "ekem1" directly after the
    # first "ee".
    for msg in messages:
        if "e" in msg:
            at = msg.index("e")
            for j in range(at + 1, len(msg)):
                if msg[j] in ("ee", "es", "se", "ss"):
                    at = j
                    break
            msg.insert(at + 1, "e1")
            break
    for msg in messages:
        if "ee" in msg:
            msg.insert(msg.index("ee") + 1, "ekem1")
            break
    else:
        raise ValueError("hfs needs an ee token")


def parse_pattern(name: str) -> HandshakePattern:
    """Parse a pattern name with modifiers, e.g. ``XX``, ``IKpsk2``, ``NNpsk0+psk2``, ``IKpsk2+hfs``.

    Raises:
        ValueError: unknown base pattern or modifier.
    """
    base = name
    while base and base not in BASE_PATTERNS:
        base = base[:-1]
    if not base:
        raise ValueError(f"unknown handshake pattern {name!r}")
    init_pre, resp_pre, messages = _parse(BASE_PATTERNS[base])
    modifiers = [m for m in name[len(base) :].split("+") if m]
    has_psk = has_hfs = False
    if len(set(modifiers)) != len(modifiers):
        raise ValueError(f"repeated modifier in {name!r}")
    for modifier in modifiers:
        if modifier.startswith("psk") and modifier[3:].isdigit():
            _apply_psk(messages, int(modifier[3:]))
            has_psk = True
        elif modifier == "hfs":
            _apply_hfs(messages)
            has_hfs = True
        else:
            raise ValueError(f"unsupported pattern modifier {modifier!r}")
    return HandshakePattern(
        name=name,
        initiator_pre=init_pre,
        responder_pre=resp_pre,
        messages=tuple(tuple(m) for m in messages),
        has_psk=has_psk,
        has_hfs=has_hfs,
    )
