"""`cimhub serve` terminates TLS itself when given a certificate: TLS 1.2 or newer only."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cimhub.cli import tls_options
from cimhub.settings import Settings
from cimhub.testing.databases import sqlite_url
from cimhub.testing.server import running_https_hub


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "hub.pem", directory / "hub.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def https_port(tmp_path: Path) -> Iterator[int]:
    cert, key = self_signed(tmp_path)
    settings = Settings(
        database_url=sqlite_url(tmp_path), tls_cert_file=str(cert), tls_key_file=str(key)
    )
    with running_https_hub(settings) as (_hub, port):
        yield port


def handshake(port: int, version: ssl.TLSVersion) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLSv1_1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
        return tls.recv(100).decode()


def test_tls_1_2_and_1_3_are_served(https_port: int) -> None:
    assert handshake(https_port, ssl.TLSVersion.TLSv1_2).startswith("HTTP/1.1 200")
    assert handshake(https_port, ssl.TLSVersion.TLSv1_3).startswith("HTTP/1.1 200")


def test_tls_1_1_is_refused(https_port: int, tmp_path: Path) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(https_port, ssl.TLSVersion.TLSv1_1)
    cert, key = self_signed(tmp_path)  # and the server's own context says why
    options = tls_options(Settings(tls_cert_file=str(cert), tls_key_file=str(key)))
    config = uvicorn.Config(lambda *a: None, **options)
    config.load()
    assert config.ssl is not None
    assert config.ssl.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_no_certificate_means_no_tls_options() -> None:
    assert tls_options(Settings()) == {}
