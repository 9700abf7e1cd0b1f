"""Station identities (:mod:`hotline.proto.identity`): keys, names, key digest and fingerprint."""

from __future__ import annotations

import pytest

from hotline.crypto.random import random_bytes
from hotline.proto.identity import Fingerprint, Identity, PublicIdentity, station_name_problem
from hotline.proto.identity_errors import IdentityError
from tests.support.identities import fixed_identity

PARIS = fixed_identity("Paris", 1)

# Golden values for PARIS, produced through Identity.from_parts (our spec, docs/protocol.md §8).
PARIS_KEY_DIGEST = "baa4d306df0536411f626320e5bc88d4c8923eb92c76e45fdf38655733db11a7"
PARIS_FINGERPRINT = "XKSN GBW7 AU3E CH3C MMQO LPEI 2TEJ EPVZ"


def test_golden_key_digest_and_fingerprint() -> None:
    assert PARIS.key_digest.hex() == PARIS_KEY_DIGEST
    assert str(PARIS.fingerprint) == PARIS_FINGERPRINT
    assert PARIS.fingerprint.raw == PARIS.key_digest[:20]


def test_generate_gives_fresh_keys() -> None:
    a, b = Identity.generate("Paris"), Identity.generate("Paris")
    assert a != b
    assert a.key_digest != b.key_digest
    assert len({part for identity in (a, b) for part in identity.secret_parts}) == 6


def test_from_parts_round_trips_the_secret_parts() -> None:
    parts = (random_bytes(32), random_bytes(64), random_bytes(64))
    identity = Identity.from_parts("Rome", static_key=parts[0], kem_seed=parts[1], signing_seed=parts[2])
    assert identity.secret_parts == parts
    again = Identity.from_parts("Rome", static_key=parts[0], kem_seed=parts[1], signing_seed=parts[2])
    assert again == identity
    assert again.public() == identity.public()


def test_equality_covers_name_and_every_key() -> None:
    assert fixed_identity("Paris", 1) == PARIS
    assert fixed_identity("Lyon", 1) != PARIS
    static, kem, signing = PARIS.secret_parts
    for changed in (
        Identity.from_parts("Paris", static_key=bytes(32), kem_seed=kem, signing_seed=signing),
        Identity.from_parts("Paris", static_key=static, kem_seed=bytes(64), signing_seed=signing),
        Identity.from_parts("Paris", static_key=static, kem_seed=kem, signing_seed=bytes(64)),
    ):
        assert changed != PARIS
        assert changed.key_digest != PARIS.key_digest
    assert PARIS != "Paris"


def test_public_half_matches_the_private_keys() -> None:
    public = PARIS.public()
    assert isinstance(public, PublicIdentity)
    assert public.name == "Paris"
    assert public.static_public == PARIS.static_key.public_key()
    assert public.kem_public == PARIS.kem_key.public_key()
    assert public.verify_key == PARIS.signing_key.public_key()
    assert public.fingerprint == PARIS.fingerprint
    # the keys work together: a signature verifies, a DH agrees, a KEM round-trips
    signature = PARIS.signing_key.sign(b"test", context=b"ctx")
    public.verify_key.verify(signature, b"test", context=b"ctx")
    other = fixed_identity("Moscow", 11)
    assert PARIS.static_key.exchange(other.public().static_public) == other.static_key.exchange(
        public.static_public
    )
    shared, ciphertext = public.kem_public.encapsulate()
    assert PARIS.kem_key.decapsulate(ciphertext) == shared


def test_repr_shows_no_secrets() -> None:
    text = repr(PARIS)
    assert "Paris" in text and PARIS_FINGERPRINT in text
    for part in PARIS.secret_parts:
        assert part.hex()[:16] not in text


def test_identity_is_not_hashable() -> None:
    with pytest.raises(TypeError):
        hash(PARIS)


@pytest.mark.parametrize(
    ("static", "kem", "signing"), [(31, 64, 64), (32, 63, 64), (32, 64, 65), (0, 0, 0)], ids=str
)
def test_from_parts_rejects_wrong_lengths(static: int, kem: int, signing: int) -> None:
    with pytest.raises(IdentityError, match="wrong length"):
        Identity.from_parts(
            "Paris", static_key=bytes(static), kem_seed=bytes(kem), signing_seed=bytes(signing)
        )


@pytest.mark.parametrize(
    "name",
    ["Paris", "Élysée", "Moscow Kremlin", "東京", "Crisis Centre #2", "a" * 64, "O'Hare"],
)
def test_valid_names(name: str) -> None:
    assert station_name_problem(name) is None
    assert Identity.generate(name).name == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 65, "longer than 64"),
        (" Paris", "space"),
        ("Paris ", "space"),
        ("Par\x00is", "control"),
        ("Par\nis", "control"),
        ("Par\u200bis", "invisible"),  # zero-width space
        ("Par\u202eis", "invisible"),  # right-to-left override
        ("Par\u2028is", "invisible"),  # line separator
        ("Par\u00a0is", "invisible"),  # no-break space
        ("E\u0301lyse\u0301e", "NFC"),
        (42, "not text"),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_invalid_names(name: object, reason: str) -> None:
    problem = station_name_problem(name)
    assert problem is not None and reason in problem
    with pytest.raises(IdentityError, match=reason):
        Identity.generate(name)  # type: ignore[arg-type]


def test_public_identity_checks_its_name() -> None:
    public = PARIS.public()
    with pytest.raises(IdentityError):
        PublicIdentity("", public.static_public, public.kem_public, public.verify_key)


def test_fingerprint_text_and_parse() -> None:
    fingerprint = PARIS.fingerprint
    groups = str(fingerprint).split(" ")
    assert len(groups) == 8 and all(len(group) == 4 for group in groups)
    assert repr(fingerprint) == f"Fingerprint('{PARIS_FINGERPRINT}')"
    assert Fingerprint.parse(str(fingerprint)) == fingerprint
    assert Fingerprint.parse(str(fingerprint).lower().replace(" ", "-")) == fingerprint
    assert Fingerprint.parse("".join(groups)) == fingerprint


@pytest.mark.parametrize("text", ["", "XKSN", PARIS_FINGERPRINT + " AAAA", "1" * 32, "É" * 32])
def test_fingerprint_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Fingerprint.parse(text)


def test_fingerprint_is_20_bytes() -> None:
    with pytest.raises(ValueError):
        Fingerprint(bytes(19))
