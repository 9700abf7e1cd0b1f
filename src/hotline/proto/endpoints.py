"""Card endpoints: the one canonical spelling of ``host:port`` a station card may list
(``docs/protocol.md`` §8.3)."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["endpoint_problem", "parse_endpoint"]

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def endpoint_problem(endpoint: object) -> str | None:
    """Why ``endpoint`` is not a canonical card endpoint, or None when it is."""
    if not isinstance(endpoint, str):
        return "an endpoint is not text"
    try:
        parse_endpoint(endpoint)
    except ValueError as exc:
        return str(exc)
    return None


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split a card endpoint ``host:port`` into ``(host, port)``.

    Only the canonical spelling is accepted, so a card has one encoding: a lower-case DNS name, a
    dotted-quad IPv4 address, or an IPv6 address in brackets in its compressed form (``[2001:db8::1]``),
    then a port from 1 to 65535 without leading zeros. The returned host has no brackets.

    Raises:
        ValueError: with a reason naming what is wrong.
    """
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not host:
        raise _bad(endpoint, "is not host:port")
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise _bad(endpoint, "has a port that is not a number from 1 to 65535")
    port = int(port_text)
    if host.startswith("["):
        if not host.endswith("]"):
            raise _bad(endpoint, "has an unclosed [")
        inner = host[1:-1]
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise _bad(endpoint, "has an invalid IPv6 address") from None
        if address.scope_id is not None:
            raise _bad(endpoint, "has an IPv6 zone (%...), which means nothing to the other station")
        if address.ipv4_mapped is not None:
            # one spelling per address: the IPv4 one (Python versions also disagree on how to
            # print the mapped form)
            raise _bad(endpoint, f"should write its IPv4-mapped address as {address.ipv4_mapped}")
        if str(address) != inner:
            raise _bad(endpoint, f"should write its IPv6 address as {address}")
        return inner, port
    if ":" in host:
        raise _bad(endpoint, "has an IPv6 address without [brackets]")
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise _bad(endpoint, "has an invalid IPv4 address") from None
        if str(v4) != host:
            raise _bad(endpoint, f"should write its IPv4 address as {v4}")
        return host, port
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _bad(endpoint, "has a host name that is not lower-case letters, digits, '-' and '.'")
    if labels[-1].isdigit():
        raise _bad(endpoint, "has a host name ending in a number")
    return host, port


def _bad(endpoint: str, what: str) -> ValueError:
    shown = endpoint if len(endpoint) <= 80 else endpoint[:77] + "..."
    return ValueError(f"endpoint {shown!r} {what}")
