"""`cimhub credential | user | role | audit`: who may call the hub, and what they did.

Keys are printed once, at creation; passwords are read from a prompt, from
``CIMHUB_NEW_PASSWORD`` or from ``--password-file``, never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cimhub.errors import CimHubError
from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    credential = commands.add_parser("credential", help="API keys of external systems")
    actions = credential.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new API key (printed once)")
    create.add_argument("--tenant", required=True, help="the tenant the key is bound to")
    create.add_argument("--name", required=True, help="the system's name, e.g. hes-a")
    create.add_argument("--role", action="append", required=True, help="a role (repeatable)")
    create.add_argument("--allow", action="append", default=[], help="a CIDR it may call from")
    create.add_argument(
        "--wsse-digest",
        action="store_true",
        help="may sign SOAP UsernameToken PasswordDigests (needs CIMHUB_SECRET_KEY)",
    )
    create.set_defaults(run=_credential_create)
    listing = actions.add_parser("list", help="credentials (never their keys)")
    listing.add_argument("--tenant")
    listing.set_defaults(run=_credential_list)
    roles = actions.add_parser("roles", help="replace a credential's roles")
    roles.add_argument("prefix", help="its public id (ck_…)")
    roles.add_argument("--role", action="append", required=True, help="a role (repeatable)")
    roles.set_defaults(run=_roles, kind="credential", target="prefix")
    revoke = actions.add_parser("revoke", help="revoke a key by its public id (ck_…)")
    revoke.add_argument("prefix")
    revoke.set_defaults(run=_credential_revoke)
    certificate = actions.add_parser(
        "certificate", help="let an X.509 client certificate authenticate as the credential"
    )
    certificate.add_argument("prefix", help="its public id (ck_…)")
    which = certificate.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", type=Path, help="PEM file: bind this certificate (SHA-256)")
    which.add_argument(
        "--subject", help="bind any CA-issued certificate with this RFC 4514 subject"
    )
    which.add_argument("--remove", action="store_true", help="unbind its certificates")
    certificate.add_argument(
        "--by-subject", action="store_true", help="with --cert: bind the file's subject instead"
    )
    certificate.set_defaults(run=_credential_certificate)

    user = commands.add_parser("user", help="people who log in (REST Basic, SOAP)")
    actions = user.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new user; the password is asked for")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True, help="login name, unique in the hub")
    create.add_argument("--role", action="append", required=True, help="a role (repeatable)")
    create.add_argument("--password-file", type=Path, help="read the password from this file")
    create.set_defaults(run=_user_create)
    listing = actions.add_parser("list", help="users and their roles")
    listing.add_argument("--tenant")
    listing.set_defaults(run=_user_list)
    password = actions.add_parser("password", help="set a user's password (asked for)")
    password.add_argument("name")
    password.add_argument("--password-file", type=Path, help="read the password from this file")
    password.set_defaults(run=_user_password)
    roles = actions.add_parser("roles", help="replace a user's roles")
    roles.add_argument("name")
    roles.add_argument("--role", action="append", required=True, help="a role (repeatable)")
    roles.set_defaults(run=_roles, kind="user", target="name")
    disable = actions.add_parser("disable", help="stop a user from logging in")
    disable.add_argument("name")
    disable.set_defaults(run=_user_disable)
    from cimhub.session_commands import add_commands as add_sessions  # session …, user unlock

    add_sessions(commands, actions)
    from cimhub.mqtt_commands import add_commands as add_mqtt  # mqtt login | acl

    add_mqtt(commands)

    role = commands.add_parser("role", help="roles and the permissions they grant")
    actions = role.add_subparsers(required=True, metavar="ACTION")
    actions.add_parser("list", help="every role and its grants").set_defaults(run=_role_list)
    for name, helptext in (("grant", "let a role do more"), ("revoke", "let a role do less")):
        change = actions.add_parser(name, help=helptext)
        change.add_argument("role")
        change.add_argument("permission", help="e.g. MeterReadings.get, rest.*.read, *.get")
        change.set_defaults(run=_role_change, change=name)

    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    actions = audit.add_subparsers(required=True, metavar="ACTION")
    actions.add_parser("verify", help="recompute the hash chain").set_defaults(run=_audit_verify)
    listing = actions.add_parser("list", help="the latest entries")
    listing.add_argument("--tenant")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_audit_list)


def actor() -> str:
    """Who runs the CLI, for the audit log."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _security(settings: Settings | None = None) -> Iterator[Any]:
    from cimhub.store.database import Database
    from cimhub.store.security import Security

    database = Database((settings or Settings()).database_url)
    try:
        database.upgrade()
        with database.unit_of_work(hub=True) as uow:
            yield Security(uow)
    finally:
        database.dispose()


def _fail(error: CimHubError) -> int:
    print(f"cimhub: {error.reason}", file=sys.stderr)
    return 1


def _credential_create(args: argparse.Namespace) -> int:
    from cimhub.endpoints.auth import read_secret
    from cimhub.store.security import fernet

    try:
        allow = tuple(str(ipaddress.ip_network(a, strict=False)) for a in args.allow)
    except ValueError as exc:
        print(f"cimhub: {exc}", file=sys.stderr)
        return 2
    settings = Settings()
    cipher = None
    if args.wsse_digest:
        secret = read_secret(settings.secret_key, settings.secret_key_file)
        if not secret:
            print("cimhub: --wsse-digest needs CIMHUB_SECRET_KEY(_FILE)", file=sys.stderr)
            return 2
        cipher = fernet(secret)
    try:
        with _security(settings) as security:
            key = security.create_credential(
                args.tenant, args.name, args.role, actor=actor(), allow=allow, digest_cipher=cipher
            )
    except CimHubError as exc:
        return _fail(exc)
    print(key)
    print(
        f"(the API key of {args.name!r} in tenant {args.tenant!r}; shown once, store it now. "
        f"Its public id is {key.split('.')[0]}.)",
        file=sys.stderr,
    )
    return 0


def _credential_list(args: argparse.Namespace) -> int:
    with _security() as security:
        found = security.credentials(args.tenant)
    for c in found:
        state = "revoked " + _when(c.revoked_at) if c.revoked_at else "active"
        allow = ",".join(c.allow) or "any address"
        digest = "  wsse-digest" if c.wsse_digest else ""
        print(f"{c.prefix}\t{c.tenant}\t{c.name}\t{','.join(c.roles)}\t{allow}\t{state}{digest}")
    return 0


def _credential_revoke(args: argparse.Namespace) -> int:
    try:
        with _security() as security:
            security.revoke_credential(args.prefix, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"revoked {args.prefix}")
    return 0


def _credential_certificate(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from cimhub.store.client_certificates import ClientCertificates

    kind, value = "subject", args.subject
    if args.cert:
        try:
            cert = x509.load_pem_x509_certificate(args.cert.read_bytes())
        except (OSError, ValueError) as exc:
            print(f"cimhub: {args.cert}: not a PEM certificate ({exc})", file=sys.stderr)
            return 2
        kind, value = (
            ("subject", cert.subject.rfc4514_string())
            if args.by_subject
            else ("sha256", cert.fingerprint(hashes.SHA256()).hex())
        )
    try:
        with _security() as security:
            certificates = ClientCertificates(security.uow)
            if args.remove:
                gone = certificates.unbind(args.prefix, actor=actor())
                print(f"{args.prefix}: {gone} certificate binding(s) removed")
                return 0
            certificates.bind(args.prefix, kind, value, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"{args.prefix}: a client certificate with {kind} {value} now authenticates as it")
    return 0


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        return args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    if os.environ.get("CIMHUB_NEW_PASSWORD"):
        return os.environ["CIMHUB_NEW_PASSWORD"]
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"password for {args.name}: ")
    return first if getpass.getpass("again: ") == first else None


def _user_create(args: argparse.Namespace) -> int:
    password = _password(args)
    if not password:
        print(
            "cimhub: no password (prompt mismatch, or give CIMHUB_NEW_PASSWORD or --password-file)",
            file=sys.stderr,
        )
        return 2
    try:
        with _security() as security:
            security.create_user(args.tenant, args.name, password, args.role, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"user {args.name!r} created in tenant {args.tenant!r}")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    password = _password(args)
    if not password:
        print("cimhub: no password (give CIMHUB_NEW_PASSWORD or --password-file)", file=sys.stderr)
        return 2
    try:
        with _security() as security:
            security.set_password(args.name, password, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"password of {args.name!r} changed")
    return 0


def _roles(args: argparse.Namespace) -> int:
    from cimhub.domain.access import Kind

    name = getattr(args, args.target)
    try:
        with _security() as security:
            security.replace_roles(Kind(args.kind), name, args.role, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"{args.kind} {name}: {', '.join(args.role)}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    with _security() as security:
        for tenant, name, roles, disabled in security.users(args.tenant):
            print(f"{tenant}\t{name}\t{','.join(roles)}\t{'disabled' if disabled else 'active'}")
    return 0


def _user_disable(args: argparse.Namespace) -> int:
    try:
        with _security() as security:
            security.disable_user(args.name, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"user {args.name!r} disabled")
    return 0


def _role_list(args: argparse.Namespace) -> int:
    with _security() as security:
        grants = security.grants()
    for role in sorted(grants):
        print(f"{role}\t{' '.join(sorted(grants[role]))}")
    return 0


def _role_change(args: argparse.Namespace) -> int:
    try:
        with _security() as security:
            change = security.grant if args.change == "grant" else security.revoke
            change(args.role, args.permission, actor=actor())
    except CimHubError as exc:
        return _fail(exc)
    print(f"{args.change}: {args.role} {args.permission}")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    with _security() as security:
        broken = security.audit.verify()
        count = len(security.audit.entries())
    if broken is not None:
        print(f"audit chain BROKEN at entry {broken.entry_id}: {broken.reason}", file=sys.stderr)
        return 1
    print(f"audit chain intact: {count} entries")
    return 0


def _audit_list(args: argparse.Namespace) -> int:
    with _security() as security:
        entries = security.audit.entries(tenant=args.tenant)
    for e in entries[-args.limit :] if args.limit > 0 else entries:
        if args.json:
            print(json.dumps({k: getattr(e, k) for k in e.__slots__}))
        else:
            print(f"{e.id}\t{_when(e.at)}\t{e.actor}\t{e.tenant or '-'}\t{e.action}\t{e.object}")
    return 0


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def auth_configured(settings: Settings) -> bool:
    """True when a JWT key is set or the store holds a credential or user.

    Looks without creating or migrating anything: a database that does not exist yet, or
    predates the security tables, has no credentials.
    """
    from sqlalchemy import exc, make_url

    from cimhub.endpoints.auth import read_secret
    from cimhub.store.database import Database
    from cimhub.store.security import Security

    if settings.jwt_public_key_file or read_secret(settings.jwt_secret, settings.jwt_secret_file):
        return True
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return False
    database = Database(settings.database_url)
    try:
        with database.unit_of_work(hub=True) as uow:
            return Security(uow).configured()
    except (exc.SQLAlchemyError, CimHubError):
        return False
    finally:
        database.dispose()


def serve_banner(settings: Settings, secured: bool) -> str:
    """The start-up lines about authentication: loud while the hub is open."""
    if not secured:
        return (
            "WARNING: no authentication configured — any process on this machine may send "
            "messages as any tenant; this is why the hub listens on loopback only. Create a "
            "credential (cimhub credential create …) to require authentication."
        )
    if settings.allow_anonymous_loopback:
        return (
            "authentication required, EXCEPT from loopback clients "
            "(CIMHUB_ALLOW_ANONYMOUS_LOOPBACK=true): every local process acts as any tenant."
        )
    return "authentication required (API key, bearer token, Basic or WS-Security)."


def demo_key(database: Any, tenant: str) -> str:
    """A fresh key for the demo's simulated HES (its previous demo key is revoked)."""
    from cimhub.store.security import Security

    with database.unit_of_work(hub=True) as uow:
        uow.tenants.ensure(tenant)
        security = Security(uow)
        for old in security.credentials(tenant):
            if old.name == "demo-hes" and old.revoked_at is None:
                security.revoke_credential(old.prefix, actor="demo")
        return str(security.create_credential(tenant, "demo-hes", ["HES system"], actor="demo"))
