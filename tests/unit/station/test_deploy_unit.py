"""F6: the documented systemd deployment keeps the passphrase off the disk and sandboxes the daemon."""

from __future__ import annotations

from pathlib import Path

from hotline.cli.options import CREDENTIAL

DEPLOY = Path(__file__).resolve().parents[3] / "docs" / "deploy"


def directives(path: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit file (comments and sections dropped), values in order per key."""
    found: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key, []).append(value)
    return found


def test_f6_the_service_takes_the_passphrase_as_an_encrypted_credential() -> None:
    """F6: no passphrase file on the disk: an encrypted credential named as `hotline up` reads it."""
    unit = directives(DEPLOY / "hotline.service")
    [credential] = unit["LoadCredentialEncrypted"]
    name, _, source = credential.partition(":")
    assert name == CREDENTIAL and source.endswith(".cred")
    [command] = unit["ExecStart"]
    assert "--passphrase-file" not in command and command.endswith(" up")
    assert "HOTLINE_PASSPHRASE" not in (DEPLOY / "hotline.service").read_text(encoding="utf-8")
    assert "Environment" not in unit and "LoadCredential" not in unit


def test_f6_the_service_is_hardened() -> None:
    """F6: the sandbox directives are there with the values that make them bite."""
    unit = directives(DEPLOY / "hotline.service")
    expected = {
        "LimitCORE": "0",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/hotline",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes",
        "CapabilityBoundingSet": "",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], f"{key}={unit.get(key)}"
    assert unit["SystemCallFilter"][0] == "@system-service"
    assert unit["User"] == ["hotline"]


def test_f6_the_boot_prompt_unit_keeps_the_passphrase_in_memory() -> None:
    """F6: the alternative asks at boot and writes only under /run (memory), root-only."""
    unit = directives(DEPLOY / "hotline-passphrase.service")
    [command] = unit["ExecStart"]
    assert "systemd-ask-password" in command and "> /run/credstore/hotline.passphrase" in command
    assert unit["ExecStop"] == ["/bin/rm -f /run/credstore/hotline.passphrase"]
    assert unit["LimitCORE"] == ["0"] and unit["UMask"] == ["0077"]
    text = (DEPLOY / "hotline-passphrase.service").read_text(encoding="utf-8")
    assert f"LoadCredential={CREDENTIAL}:/run/credstore/hotline.passphrase" in text
