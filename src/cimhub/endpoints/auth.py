"""Who is calling: API keys, OAuth2/JWT bearer tokens, HTTP Basic and WS-Security
UsernameTokens turned into a :class:`~cimhub.domain.access.Principal` bound to one tenant.

* ``Authorization: Bearer ck_…`` or ``X-Api-Key: ck_…``: a system credential's API key.
* ``Authorization: Bearer <JWT>``: a token from the identity provider, HS256 with
  ``CIMHUB_JWT_SECRET`` or RS256/ES256 with ``CIMHUB_JWT_PUBLIC_KEY_FILE``; ``exp``,
  ``aud`` (``CIMHUB_JWT_AUDIENCE``) and, when set, ``iss`` are checked; claims ``sub``,
  ``tenant`` and ``roles`` name the principal.
* ``Authorization: Basic …``: a user's name and password (over TLS only, like any password).
* ``Authorization: Bearer cs_…`` or the ``cimhub_session`` cookie: a user's interactive
  session (``POST /api/v1/auth/login``, see ``cimhub.endpoints.logins``).
* An X.509 client certificate (TLS at the hub or at a trusted reverse proxy, see
  ``cimhub.endpoints.client_cert``) bound to a system credential by fingerprint or subject.
* SOAP: ``wsse:Security/wsse:UsernameToken`` (OASIS WSS UsernameToken Profile 1.1):
  PasswordText with an API key or a user's password, or PasswordDigest
  (Base64(SHA-1(nonce + created + key))) for credentials created with ``--wsse-digest``.
  ``Created`` must lie within ``CIMHUB_WSSE_WINDOW_SECONDS``; a nonce is accepted once.

Until the hub has a credential, a user or a JWT key, it runs in *open loopback mode*:
requests without credentials get the all-permitting loopback principal, and ``cimhub
serve`` listens on loopback addresses only. Afterwards a request without credentials is
refused (unless ``CIMHUB_ALLOW_ANONYMOUS_LOOPBACK`` lets loopback clients in).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from fastapi import Request
from lxml import etree
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

from cimhub.domain.access import (
    ADMIN_READ,
    ADMIN_WRITE,
    Kind,
    Principal,
    loopback,
    permissions_of,
    rest_permission,
)
from cimhub.endpoints.auth_throttle import Throttle
from cimhub.endpoints.client_cert import peer_certificate
from cimhub.endpoints.logins import COOKIE, CSRF_HEADER, Logins, csrf_token
from cimhub.errors import NotAuthenticatedError, NotPermittedError, StorageUnavailableError
from cimhub.settings import Settings
from cimhub.store.cache import StoreCache
from cimhub.store.client_certificates import ClientCertificates
from cimhub.store.database import UNAVAILABLE, Database
from cimhub.store.security import Member, Security, decrypt_key, fernet
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.auth")

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
SESSION_PREFIX = "cs_"  # a user's session token (cimhub.endpoints.logins)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_CLOCK_SKEW = 60  # seconds a Created may lie in the future
_UNCONFIGURED_RECHECK = 2.0  # seconds "no credentials yet" is believed before asking again


def read_secret(value: str | None, file: str | None) -> str | None:
    """A secret from its environment variable, else from the file it names."""
    if value:
        return value
    if file:
        return Path(file).read_text(encoding="utf-8").strip() or None
    return None


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Turns the credentials of a request into a Principal (or raises 6.1 / 6.2)."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._jwt_key, self._jwt_algorithms = _jwt_key(settings)
        secret = read_secret(settings.secret_key, settings.secret_key_file)
        self.cipher: Fernet | None = fernet(secret) if secret else None
        self._configured_at: float | None = None  # when "unconfigured" was last confirmed
        self._secured = self._jwt_key is not None
        self._failures = Throttle(60.0)
        self._logins = Throttle(600.0)
        self._cache = StoreCache()
        self.logins = Logins(settings, database, self._reading)

    @contextmanager
    def _reading(self) -> Iterator[UnitOfWork]:
        """A read-only unit of work (rolled back; takes no write lock on SQLite)."""
        try:
            with (
                Session(self.database.engine) as session,
                closing(UnitOfWork(session, self._cache, hub=True)) as uow,
            ):
                yield uow
        except UNAVAILABLE as error:
            raise StorageUnavailableError(f"storage unavailable: {error}") from error

    # ---- the mode ----------------------------------------------------------------------

    def configured(self) -> bool:
        """True once a JWT key is set or any credential or user exists (then for good)."""
        if self._secured:
            return True
        now = time.monotonic()
        if self._configured_at is not None and now - self._configured_at < _UNCONFIGURED_RECHECK:
            return False
        with self._reading() as uow:
            self._secured = Security(uow).configured()
        self._configured_at = now
        return self._secured

    # ---- HTTP --------------------------------------------------------------------------

    def http(
        self,
        headers: Mapping[str, str],
        client: str | None,
        tenant_header: str | None,
        *,
        method: str | None = None,
        certificate: x509.Certificate | None = None,
    ) -> Principal:
        """The principal of an HTTP request (REST, POST /cim, SOAP with HTTP credentials).

        With ``method`` (REST and /cim), a session cookie counts too; an unsafe method
        then needs the session's CSRF token in ``X-Cimhub-CSRF``. Without credentials in
        headers, a verified client ``certificate`` bound to a credential is one.
        """
        authorization = headers.get("authorization", "").strip()
        api_key = headers.get("x-api-key", "").strip()
        if not authorization and not api_key:
            cookie = session_cookie(headers) if method is not None else None
            if cookie:
                return self.bind(self._cookie(cookie, headers, method, client), tenant_header)
            if certificate is not None:
                return self.bind(self._certificate(certificate, client, tenant_header),
                                 tenant_header)  # fmt: skip
            return self.anonymous(client, tenant_header)
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if api_key:
            principal = self._api_key(api_key, client)
        elif scheme.lower() == "bearer" and value.startswith("ck_"):
            principal = self._api_key(value, client)
        elif scheme.lower() == "bearer" and value.startswith(SESSION_PREFIX):
            principal = self._session(value, client)
        elif scheme.lower() == "bearer":
            principal = self._token(value, client)
        elif scheme.lower() == "basic":
            principal = self._basic(value, client)
        else:
            raise self.failed(client, "", f"unsupported authorization scheme {scheme!r}")
        return self.bind(principal, tenant_header)

    def anonymous(self, client: str | None, tenant_header: str | None) -> Principal:
        """No credentials: the loopback principal in open mode, else 6.1."""
        tenant = (tenant_header or "").strip() or self.settings.default_tenant
        if not self.configured():
            return loopback(tenant)
        if self.settings.allow_anonymous_loopback and is_loopback(client):
            return loopback(tenant)
        raise self.failed(client, "", "credentials required", audit=False)

    def bind(self, principal: Principal, tenant_header: str | None) -> Principal:
        """A tenant named by a header must be the principal's own (credentials decide)."""
        named = (tenant_header or "").strip()
        if named and named != principal.tenant and principal.kind is not Kind.LOOPBACK:
            raise NotPermittedError(
                f"{principal.name!r} is bound to tenant {principal.tenant!r}, not {named!r}"
            )
        return principal

    # ---- each method -------------------------------------------------------------------

    def _api_key(self, key: str, client: str | None) -> Principal:
        prefix = key.split(".", 1)[0][:32]
        with self._reading() as uow:
            member = Security(uow).credential_by_key(key)
        if member is None:
            raise self.failed(client, prefix, "unknown or revoked API key")
        return self._admit(member, client)

    def _basic(self, value: str, client: str | None) -> Principal:
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise self.failed(client, "", "malformed Basic credentials") from exc
        return self._password(name, password, client)

    def _password(self, name: str, password: str, client: str | None) -> Principal:
        if password.startswith("ck_"):  # systems may present their key as a password
            return self._api_key(password, client)
        member = self.logins.password(name, password, client)  # counts failures, locks out
        if member is None:
            raise self.failed(client, name[:100], "wrong user name or password")
        return self._admit(member, client)

    def _certificate(
        self, certificate: x509.Certificate, client: str | None, tenant_header: str | None
    ) -> Principal:
        """The credential a client certificate is bound to (by fingerprint or subject)."""
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        subject = certificate.subject.rfc4514_string()
        with self._reading() as uow:
            credential_id = ClientCertificates(uow).credential_of(fingerprint, subject)
            member = Security(uow).credential_by_id(credential_id) if credential_id else None
        if member is not None:
            return self._admit(member, client)
        if not self.configured():  # open loopback mode: a certificate changes nothing
            return self.anonymous(client, tenant_header)
        raise self.failed(client, subject[:100], "client certificate bound to no credential")

    def _session(self, token: str, client: str | None) -> Principal:
        resolved = self.logins.resolve(token)
        if isinstance(resolved, str):
            raise self.failed(client, token.split(".", 1)[0][:32], resolved)
        return resolved

    def _cookie(
        self, token: str, headers: Mapping[str, str], method: str | None, client: str | None
    ) -> Principal:
        principal = self._session(token, client)
        if method not in SAFE_METHODS:
            presented = headers.get(CSRF_HEADER.lower(), "")
            if not hmac.compare_digest(presented.encode(), csrf_token(token).encode()):
                raise self.failed(client, principal.name, f"{method} with a session cookie "
                                  f"needs the session's {CSRF_HEADER} header")  # fmt: skip
        return principal

    def _token(self, token: str, client: str | None) -> Principal:
        if self._jwt_key is None:
            raise self.failed(client, "", "bearer tokens are not configured (no JWT key)")
        options = {"require": ["exp", "sub", "tenant"]}
        try:
            claims = jwt.decode(
                token,
                self._jwt_key,
                algorithms=self._jwt_algorithms,
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as exc:
            raise self.failed(client, "", f"bearer token refused: {exc}") from exc
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        with self._reading() as uow:
            grants = Security(uow).grants()
            tenant_known = uow.tenants.find(str(claims["tenant"])) is not None
        if not tenant_known:
            raise self.failed(client, str(claims["sub"]), "the token names an unknown tenant")
        roles = frozenset(str(r) for r in roles)
        principal = Principal(
            str(claims["sub"]), str(claims["tenant"]), roles, permissions_of(roles, grants),
            Kind.TOKEN,
        )  # fmt: skip
        self._login(principal, client)
        return principal

    def _admit(self, member: Member, client: str | None) -> Principal:
        if member.allow and not _allowed(client, member.allow):
            raise self.failed(client, member.name, f"address {client} is not allowed")
        principal = member.principal()
        self._login(principal, client)
        return principal

    # ---- SOAP --------------------------------------------------------------------------

    def wsse(
        self, security: etree._Element, client: str | None, tenant_header: str | None
    ) -> Principal:
        """The principal of a wsse:Security header holding a UsernameToken."""
        token = security.find(f"{{{WSSE}}}UsernameToken")
        if token is None:
            raise self.failed(client, "", "wsse:Security without a UsernameToken")
        name = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        password_el = token.find(f"{{{WSSE}}}Password")
        if not name or password_el is None:
            raise self.failed(client, name, "UsernameToken without Username or Password")
        password = password_el.text or ""
        nonce = (token.findtext(f"{{{WSSE}}}Nonce") or "").strip()
        created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
        if created or nonce:
            self._fresh(name, nonce, created, client)
        if password_el.get("Type") == PASSWORD_DIGEST:
            principal = self._digest(name, password, nonce, created, client)
        else:
            principal = self._password(name, password, client)
        return self.bind(principal, tenant_header)

    def _fresh(self, name: str, nonce: str, created: str, client: str | None) -> None:
        window = self.settings.wsse_window_seconds
        now = int(time.time())
        if created:
            try:
                when = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise self.failed(client, name, "UsernameToken Created is not a time") from exc
            if when < now - window or when > now + _CLOCK_SKEW:
                raise self.failed(client, name, "UsernameToken Created outside the window")
        if nonce:
            with self.database.unit_of_work(hub=True) as uow:
                fresh = Security(uow).nonce_is_fresh(f"{name}:{nonce}"[:200], now, window)
            if not fresh:
                raise self.failed(client, name, "UsernameToken nonce replayed")

    def _digest(
        self, name: str, digest: str, nonce: str, created: str, client: str | None
    ) -> Principal:
        if not nonce or not created:
            raise self.failed(client, name, "PasswordDigest needs a Nonce and a Created")
        with self._reading() as uow:
            member = Security(uow).credential_by_prefix(name)
        if member is None or member.digest_secret is None or self.cipher is None:
            raise self.failed(client, name, "no credential allowed PasswordDigest by that name")
        key = decrypt_key(member.digest_secret, self.cipher)
        try:
            raw_nonce = base64.b64decode(nonce, validate=True)
        except binascii.Error as exc:
            raise self.failed(client, name, "UsernameToken Nonce is not Base64") from exc
        if key is None or not hmac.compare_digest(
            digest.strip(), password_digest(raw_nonce, created, key)
        ):
            raise self.failed(client, name, "PasswordDigest does not match")
        return self._admit(member, client)

    # ---- recording ---------------------------------------------------------------------

    def failed(
        self, client: str | None, who: str, reason: str, *, audit: bool = True
    ) -> NotAuthenticatedError:
        """Log (and, throttled, audit) a refused authentication; the error to raise."""
        log.warning("authentication refused from %s (%s): %s", client, who or "-", reason)
        skipped = self._failures.due((client or "",)) if audit else None  # names rotate
        if skipped is not None:
            self._audit("auth.failure", who or "-", client, None, {"reason": reason,
                        "address": client, "skipped_since_last": skipped})  # fmt: skip
        return NotAuthenticatedError(f"not authenticated: {reason}")

    def _login(self, principal: Principal, client: str | None) -> None:
        skipped = self._logins.due((client or "", principal.kind.value, principal.name))
        if skipped is not None:
            self._audit("auth.login", principal.name, client, principal.tenant,
                        {"kind": principal.kind.value, "address": client})  # fmt: skip

    def _audit(
        self, action: str, actor: str, client: str | None, tenant: str | None, after: Any
    ) -> None:
        try:
            with self.database.unit_of_work(hub=True) as uow:
                Security(uow).audit.record(actor, action, f"address:{client}", tenant=tenant,
                                           after=after)  # fmt: skip
        except Exception:  # auditing a login must not turn it into a crash
            log.exception("could not audit %s", action)


TENANT_HEADER = "X-Cimhub-Tenant"


async def authenticate(request: Request) -> Principal:
    """Authenticate an HTTP request; the principal goes on ``request.state.principal``.

    Raises NotAuthenticatedError (6.1) or NotPermittedError (6.2, a foreign tenant header).
    """
    authenticator: Authenticator = request.app.state.authenticator
    client = request.client.host if request.client else None
    certificate = peer_certificate(request, authenticator.settings)
    principal = await run_in_threadpool(
        partial(authenticator.http, method=request.method, certificate=certificate),
        request.headers,
        client,
        request.headers.get(TENANT_HEADER),
    )
    request.state.principal = principal
    from cimhub.endpoints import limits  # (limits → rest → auth: imported when first used)

    limits.charge(request)  # the principal's own rate (Throttled → 429 in transport terms)
    return principal


def guard(area: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency for a REST router: authenticated, holding the area's permission.

    Reads (GET, HEAD) need ``rest.<area>.read``, everything else ``rest.<area>.write``;
    area ``admin`` needs ``admin.read`` / ``admin.write``. (A ``{tenant}`` in the path
    that is not the principal's is answered 404 by the routers' ``same_tenant``.)
    """

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        if area == "admin":
            require(principal, ADMIN_WRITE if write else ADMIN_READ)
        else:
            require(principal, rest_permission(area, write))
        return principal

    return dependency


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """Base64(SHA-1(nonce + created + password)), the UsernameToken Profile's digest."""
    digest = hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    return base64.b64encode(digest).decode()


def require(principal: Principal, permission: str) -> None:
    """Raise 6.2 unless the principal holds ``permission`` (logged, never the secret)."""
    if not principal.allows(permission):
        log.warning("%s %r of tenant %r may not %s", principal.kind.value, principal.name,
                    principal.tenant, permission)  # fmt: skip
        raise NotPermittedError(f"{principal.name!r} may not {permission}")


def session_cookie(headers: Mapping[str, str]) -> str | None:
    """The session token of the ``cimhub_session`` cookie, if the request has one."""
    value = cookie_parser(headers.get("cookie", "")).get(COOKIE, "").strip()
    return value if value.startswith(SESSION_PREFIX) else None


def _allowed(client: str | None, networks: tuple[str, ...]) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def _jwt_key(settings: Settings) -> tuple[str | None, list[str]]:
    if settings.jwt_public_key_file:
        key = Path(settings.jwt_public_key_file).read_text(encoding="utf-8")
        return key, ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
    secret = read_secret(settings.jwt_secret, settings.jwt_secret_file)
    return (secret, ["HS256", "HS384", "HS512"]) if secret else (None, [])
