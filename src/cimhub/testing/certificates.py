"""A small PKI for tests: a CA, a server certificate for 127.0.0.1 and client
certificates it issues (EC P-256, one day), written as PEM files."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


class Authority:
    """A certificate authority whose files live in ``directory``."""

    def __init__(self, directory: Path, name: str = "cimhub test CA") -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(name)
        builder = _builder(self._name, self._name, self._key.public_key())
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        self.certificate = builder.sign(self._key, hashes.SHA256())
        self.cert = directory / f"{name.replace(' ', '-')}.pem"
        self.cert.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def server(self, host: str = "127.0.0.1") -> Issued:
        alt = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))])
        return self._issue(host, alt, ExtendedKeyUsageOID.SERVER_AUTH, "server")

    def client(self, common_name: str, organisation: str = "DISCOM A") -> Issued:
        return self._issue(
            common_name, None, ExtendedKeyUsageOID.CLIENT_AUTH, common_name, organisation
        )

    def _issue(
        self,
        common_name: str,
        alt: x509.SubjectAlternativeName | None,
        usage: x509.ObjectIdentifier,
        stem: str,
        organisation: str | None = None,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(_name(common_name, organisation), self._name, key.public_key())
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
        if alt is not None:
            builder = builder.add_extension(alt, False)
        certificate = builder.sign(self._key, hashes.SHA256())
        cert, key_file = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert, key_file, certificate)


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
