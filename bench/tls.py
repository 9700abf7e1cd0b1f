"""The TLS 1.3 baseline's certificates and contexts: one CA, a server and a client certificate.

All keys are ECDSA P-256 and certificates are signed with ECDSA-SHA256. Both contexts require
TLS 1.3 and a verified peer certificate (``CERT_REQUIRED`` on both sides: mutual authentication, the
same guarantee our handshake gives). The key exchange group is OpenSSL's default, X25519.

The server sends no session tickets: every connection in the benchmark is a full handshake and no
ticket is ever used, so issuing them would only slow the baseline down.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The name the client checks in the server's certificate.
SERVER_NAME = "localhost"
#: Described in the report.
CERTIFICATES = "ECDSA P-256 (ECDSA-SHA256 signatures), one CA, leaf certificates only on the wire"


@dataclass(frozen=True)
class TlsContexts:
    """A matching pair of contexts for one benchmark run."""

    client: ssl.SSLContext
    server: ssl.SSLContext


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf(
    subject: str, ca: tuple[x509.Name, ec.EllipticCurvePrivateKey], usage: x509.ObjectIdentifier
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName(SERVER_NAME),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = _certificate(
        subject,
        key,
        ca,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([usage]), False),
            (x509.SubjectAlternativeName(names), False),
        ],
    )
    return cert, key


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _context(purpose: ssl.Purpose, chain: Path, ca_pem: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cadata=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(chain)
    return ctx


def make_contexts() -> TlsContexts:
    """A new CA and certificates, loaded into a client and a server context."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(
        "hotline bench CA",
        ca_key,
        None,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        ],
    )
    ca = (ca_cert.subject, ca_key)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    server = _leaf("hotline bench server", ca, ExtendedKeyUsageOID.SERVER_AUTH)
    client = _leaf("hotline bench client", ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    # load_cert_chain only reads files; they live just long enough to be loaded
    with tempfile.TemporaryDirectory() as tmp:
        server_chain, client_chain = Path(tmp, "server.pem"), Path(tmp, "client.pem")
        server_chain.write_bytes(_pem(*server))
        client_chain.write_bytes(_pem(*client))
        server_ctx = _context(ssl.Purpose.CLIENT_AUTH, server_chain, ca_pem)
        client_ctx = _context(ssl.Purpose.SERVER_AUTH, client_chain, ca_pem)
    server_ctx.num_tickets = 0
    return TlsContexts(client=client_ctx, server=server_ctx)
