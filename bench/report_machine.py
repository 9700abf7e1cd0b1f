"""The machine summary of a benchmark run: where and with what it happened (CPU and its flags,
OS, Python, the libraries each side used)."""

from __future__ import annotations

import datetime
import os
import platform
import ssl

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend

from bench import station as station_bench
from bench.runner import Results
from bench.tls import CERTIFICATES


def machine(results: Results | None, stations: station_bench.Results | None = None) -> list[tuple[str, str]]:
    """Where and with what this run happened."""
    rows = [
        ("Date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("CPU features", _cpu_features()),
        ("Cores", f"{os.cpu_count()} logical CPUs"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]
    if results is not None:
        rows.append(("Event loop", f"asyncio, stdlib {results.event_loop}"))
    rows += [
        ("cryptography", f"{cryptography.__version__} ({backend.openssl_version_text()}), used by Hotline"),
        ("Stdlib ssl", f"{ssl.OPENSSL_VERSION}, used by the TLS baseline"),
        (
            "Hotline ciphers",
            "records in ChaCha20-Poly1305 (`standard`) or AES-256-GCM (`cnsa2`), fixed by the line profile",
        ),
    ]
    if results is not None:
        rows += [
            ("TLS baseline", f"{results.tls_parameters}, X25519 key exchange (OpenSSL's default group)"),
            ("TLS certificates", f"{CERTIFICATES}; client certificate required"),
        ]
    if stations is not None:
        rows.append(("Station stores", stations.storage))
    return rows


#: CPU flags that decide how fast the two ciphers run (AES-GCM leans on aes/vaes/vpclmulqdq).
_FLAGS = ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "avx2", "avx512f")


def _cpuinfo(field: str) -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or "unknown"


def _cpu_features() -> str:
    flags = set((_cpuinfo("flags") or "").split())
    if not flags:
        return "unknown"
    return ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in _FLAGS)


__all__ = ["machine"]
