"""Network addresses as operators write them: ``host:port``, ``[v6]:port``."""

from __future__ import annotations

from hotline.station.errors import StationError


def split_address(text: str, *, allow_zero: bool) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) → ``(host, port)``, host without brackets.

    Raises:
        StationError: ``bad-request`` naming what is wrong.
    """
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""
    lowest = 0 if allow_zero else 1
    if not sep or not host or not port.isascii() or not port.isdigit() or not lowest <= int(port) <= 65535:
        raise StationError(
            "bad-request", f"{text!r} is not HOST:PORT (e.g. 192.0.2.10:7444 or [2001:db8::1]:7444)"
        )
    return host, int(port)


def show_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


__all__ = ["show_address", "split_address"]
