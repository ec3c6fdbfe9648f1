"""OPC UA transport security for the PLC handshake (docs/plc.md): the server's application instance certificate,
its private key and, optionally, the client certificates it trusts.

Without a certificate the endpoint is SecurityPolicy None and a user's password crosses the network in plain text.
With one (`--opcua-cert`, `--opcua-key`) only signed-and-encrypted or signed endpoints are offered
(Basic256Sha256 and Aes256Sha256RsaPss), so passwords and results travel encrypted. A trust folder
(`--opcua-trust`) then limits the clients to the certificates in it (or signed by a CA in it).

Everything is checked here, before anything binds, so a wrong file is one clear line and not a server that
starts and then refuses every PLC. `make_self_signed` writes a certificate for a PC without a plant PKI
(`inspector opcua-cert`).
"""

from __future__ import annotations

import datetime
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from inference import InspectorError

CERT_NAME, KEY_NAME = "inspector_opcua_cert.der", "inspector_opcua_key.pem"
# A line runs for years; a certificate that lapses stops every PLC's session at once. Ten years, and `inspector
# run` says the date when it starts.
SELF_SIGNED_DAYS = 3650
RENEW_WITHIN_DAYS = 30  # the start-up line asks for a new certificate this long before the old one lapses


@dataclass(frozen=True)
class OpcUaSecurity:
    """A checked certificate, key and trust folder, ready for the server."""

    cert_bytes: bytes
    key_bytes: bytes
    application_uri: str  # the certificate's subjectAltName URI: the server announces it (they must match)
    not_after: datetime.datetime
    trust: Optional[Path] = None
    trusted_count: int = 0

    def describe(self) -> str:
        clients = (f"clients with a certificate from {self.trust} ({self.trusted_count})" if self.trust
                   else "any client certificate (no --opcua-trust)")
        left = (self.not_after - datetime.datetime.now(datetime.timezone.utc)).days
        renew = f" (RENEW IT: {left} days left, then every PLC session fails)" if left < RENEW_WITHIN_DAYS else ""
        return (f"signed and encrypted (Basic256Sha256, Aes256Sha256RsaPss), certificate valid until "
                f"{self.not_after:%Y-%m-%d}{renew}, {clients}")


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InspectorError(f"cannot read the OPC UA {what} {path}: {exc.strerror or exc}") from None


def _certificate(data: bytes, path: Path):
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") else \
            x509.load_der_x509_certificate(data)
    except ValueError:
        raise InspectorError(f"{path} is not an X.509 certificate (DER or PEM)") from None


def _trust_store_reads(name: str) -> bool:
    # asyncua's TrustStore loads every file whose lower-case name matches ".*(der|pem)" (so "order.txt" too)
    return re.match(".*(der|pem)", name.lower()) is not None


def load_security(cert: Path, key: Path, trust: Optional[Path] = None) -> OpcUaSecurity:
    """`--opcua-cert`, `--opcua-key`, `--opcua-trust`: read and check them, or raise InspectorError naming the file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    cert_bytes, key_bytes = _read(cert, "certificate"), _read(key, "private key")
    certificate = _certificate(cert_bytes, cert)
    try:
        private_key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError) as exc:
        raise InspectorError(f"{key} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise InspectorError(f"{key}: OPC UA's security policies need an RSA key")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (private_key.public_key().public_bytes(serialization.Encoding.DER, public)
            != certificate.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise InspectorError(f"{key} is not the private key of the certificate {cert}")
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if not uris:
        raise InspectorError(f"{cert} names no application URI (subjectAltName URI), which OPC UA clients check: "
                             "make one with `inspector opcua-cert`")
    now = datetime.datetime.now(datetime.timezone.utc)
    if certificate.not_valid_after_utc < now:
        raise InspectorError(f"the OPC UA certificate {cert} expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
    count = 0
    if trust is not None:
        trust = Path(trust)
        if not trust.is_dir():
            raise InspectorError(f"--opcua-trust: no folder at {trust}")
        for file in sorted(trust.iterdir()):
            if _trust_store_reads(file.name):  # every file the server will load must be a certificate
                _certificate(_read(file, "trusted certificate"), file)
                count += 1
        if not count:
            raise InspectorError(f"--opcua-trust {trust} holds no certificate (.der or .pem): no PLC could connect")
    # The server loads DER; a PEM file is converted once here.
    der = certificate.public_bytes(serialization.Encoding.DER)
    return OpcUaSecurity(der, key_bytes, uris[0], certificate.not_valid_after_utc, trust, count)


def make_self_signed(folder: Path, host: Optional[str] = None) -> tuple[Path, Path]:
    """Write a self-signed server certificate (DER) and its key (PEM) into folder; never overwrite."""
    from asyncua.crypto import cert_gen
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    host = host or socket.gethostname()
    folder = Path(folder)
    cert, key = folder / CERT_NAME, folder / KEY_NAME
    for path in (cert, key):
        if path.exists():
            raise InspectorError(f"{path} exists: PLCs may trust it already, so it is not replaced (move it away "
                                 "first)")
    uri = f"urn:{host}:inspector"
    private_key = cert_gen.generate_private_key()
    certificate = cert_gen.generate_self_signed_app_certificate(
        private_key, f"Inspector@{host}", {}, [x509.UniformResourceIdentifier(uri), x509.DNSName(host)],
        extended=[ExtendedKeyUsageOID.SERVER_AUTH], days=SELF_SIGNED_DAYS)
    folder.mkdir(parents=True, exist_ok=True)
    # The key first and private to its owner: a certificate without its key is useless, a key left readable is not.
    key.touch(mode=0o600)
    key.write_bytes(cert_gen.dump_private_key_as_pem(private_key))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    return cert, key


async def apply(server, security: OpcUaSecurity) -> None:
    """Give an asyncua Server (after init, before start) the certificate, key, policies and client check."""
    from asyncua import ua
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions as Check

    await server.load_certificate(security.cert_bytes, format="der")
    await server.load_private_key(security.key_bytes, format="pem")
    await server.set_application_uri(security.application_uri)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                ua.SecurityPolicyType.Basic256Sha256_Sign,
                                ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
                                ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign])
    # Validity and the client's own URI always; the trust list when given. Key-usage bits are not demanded:
    # PLC vendors' certificates differ there, and the trust list is what decides who may connect.
    checks = Check.TIME_RANGE | Check.URI | Check.PEER_CLIENT
    store = None
    if security.trust is not None:
        store = TrustStore([security.trust], [])
        await store.load()
        checks |= Check.TRUSTED
    server.set_certificate_validator(CertificateValidator(checks, store))


__all__ = ["CERT_NAME", "KEY_NAME", "OpcUaSecurity", "apply", "load_security", "make_self_signed"]
