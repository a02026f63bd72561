"""X.509 client certificates: how the peer's certificate reaches the app, and reading it.

Two ways, one result (a ``cryptography`` certificate, or None):

* The hub terminates TLS itself (``CIMHUB_TLS_*``): uvicorn does not yet pass the peer
  certificate to the application, so ``cimhub serve`` runs ``ClientCertProtocol``, uvicorn's
  h11 protocol that, per connection, puts the verified client certificate into every
  request's ``scope["extensions"]["tls"]["client_cert_chain"]`` — the ASGI TLS extension's
  own key, so a uvicorn that implements the extension serves the same app unchanged. With
  ``ssl.CERT_OPTIONAL`` a certificate that does not verify against
  ``CIMHUB_TLS_CLIENT_CA_FILE`` ends the handshake: one that reaches the app is verified.
* A reverse proxy terminates TLS (the usual deployment): it verifies the certificate and
  forwards it URL-encoded in ``CIMHUB_TLS_CLIENT_CERT_HEADER`` (nginx:
  ``proxy_set_header X-Client-Cert $ssl_client_escaped_cert;``). The header is believed
  only from ``CIMHUB_TLS_CLIENT_CERT_PROXIES`` and, when the hub has the CA file too, only
  for a certificate that CA issued and that is within its validity.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from cimhub.settings import Settings

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
#: TLS versions as the ASGI TLS extension numbers them (the protocol's own codes).
TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class ClientCertProtocol(H11Protocol):
    """uvicorn's h11 protocol, adding the connection's client certificate to its scopes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:  # one protocol object per connection: its app sees this peer only
            self.app = _with_tls(self.app, ssl.DER_cert_to_PEM_cert(der), ssl_object.version())


def _with_tls(app: ASGIApp, pem: str, version: str | None) -> ASGIApp:
    tls = {
        "server_cert": None,
        "client_cert_chain": [pem],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(version or ""),
        "cipher_suite": None,
    }

    async def with_tls(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            scope.setdefault("extensions", {})["tls"] = tls
        await app(scope, receive, send)

    return with_tls


def peer_certificate(request: Request, settings: Settings) -> x509.Certificate | None:
    """The client certificate of the request: the TLS connection's, or a trusted proxy's."""
    chain = (request.scope.get("extensions") or {}).get("tls", {}).get("client_cert_chain")
    if chain:
        return x509.load_pem_x509_certificate(str(chain[0]).encode())
    forwarded = request.headers.get(settings.tls_client_cert_header, "").strip()
    client = request.client.host if request.client else None
    if not forwarded or not _from_proxy(client, settings.tls_client_cert_proxies):
        return None
    try:
        certificate = x509.load_pem_x509_certificate(unquote(forwarded).encode())
    except ValueError:
        return None
    if settings.tls_client_ca_file and not _issued_by_ca(certificate, settings.tls_client_ca_file):
        return None
    return certificate


def _from_proxy(client: str | None, proxies: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)


def _issued_by_ca(certificate: x509.Certificate, ca_file: str) -> bool:
    """Signed by one of the CA file's certificates and valid now (no longer chains)."""
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return False
    with open(ca_file, "rb") as bundle:
        authorities = x509.load_pem_x509_certificates(bundle.read())
    for authority in authorities:
        try:
            certificate.verify_directly_issued_by(authority)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False
