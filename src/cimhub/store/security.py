"""Credentials, users, roles and grants: create, look up, revoke; every change audited.

API keys look like ``ck_<12 hex>.<43 url-safe chars>``: the part before the dot is the
credential's public id (its ``prefix``, for lookup and listings); the whole key is shown
once, at creation, and stored as its SHA-256 only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, exists, select, update

from cimhub.domain.access import Kind, Principal, permissions_of
from cimhub.errors import DomainRuleError, InvalidValueError, UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.models import Tenant
from cimhub.store.security_models import (
    Credential,
    MemberRole,
    Role,
    RoleGrant,
    SeenNonce,
    User,
)

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

KEY_PREFIX = "ck_"
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def fernet(secret: str) -> Fernet:
    """The cipher for digest secrets, from any-length ``CIMHUB_SECRET_KEY``."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


@dataclass(frozen=True, slots=True)
class Member:
    """A credential or user as the authenticator needs it."""

    id: int
    kind: Kind
    name: str
    tenant: str
    roles: frozenset[str]
    permissions: frozenset[str]
    allow: tuple[str, ...] = ()
    digest_secret: str | None = None  # Fernet token of the key (credentials only)

    def principal(self) -> Principal:
        return Principal(self.name, self.tenant, self.roles, self.permissions, self.kind)


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    prefix: str
    tenant: str
    name: str
    roles: tuple[str, ...]
    allow: tuple[str, ...]
    created_at: int
    revoked_at: int | None
    wsse_digest: bool


class Security:
    """The security tables inside one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.uow = uow
        self._session = uow.session
        self.audit = AuditLog(uow)

    # ---- is anything configured? -------------------------------------------------------

    def configured(self) -> bool:
        """True once any credential or user exists (revoked ones count: the hub was secured)."""
        return bool(
            self._session.scalar(select(exists().where(Credential.id.is_not(None))))
            or self._session.scalar(select(exists().where(User.id.is_not(None))))
        )

    # ---- credentials -------------------------------------------------------------------

    def create_credential(
        self,
        tenant: str,
        name: str,
        roles: list[str],
        *,
        actor: str,
        allow: tuple[str, ...] = (),
        digest_cipher: Fernet | None = None,
    ) -> str:
        """A new API key for ``name`` in ``tenant``: returned once, stored hashed."""
        tenant_id = self._tenant_id(tenant)
        role_ids = self._role_ids(roles)
        live = select(Credential.id).where(
            Credential.tenant_id == tenant_id,
            Credential.name == name,
            Credential.revoked_at.is_(None),
        )
        if self._session.scalar(live) is not None:
            raise DomainRuleError(f"credential {name!r} exists already (revoke it first)",
                                  object_id=name)  # fmt: skip
        prefix = KEY_PREFIX + secrets.token_hex(6)
        key = f"{prefix}.{secrets.token_urlsafe(32)}"
        row = Credential(
            tenant_id=tenant_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash(key),
            digest_secret=digest_cipher.encrypt(key.encode()).decode() if digest_cipher else None,
            allow=",".join(allow),
            created_at=int(time.time()),
        )
        self._session.add(row)
        self._session.flush()
        self._set_roles(Kind.CREDENTIAL, row.id, role_ids, tenant_id)
        self.audit.record(
            actor, "credential.create", f"credential:{prefix}", tenant=tenant,
            after={"name": name, "roles": sorted(roles), "allow": list(allow),
                   "wsse_digest": digest_cipher is not None},
        )  # fmt: skip
        return key

    def credential_by_key(self, key: str) -> Member | None:
        """The live credential whose key this is (compared in constant time), or None."""
        prefix = key.split(".", 1)[0]
        row = self._session.execute(
            select(Credential, Tenant.code)
            .join(Tenant, Tenant.id == Credential.tenant_id)
            .where(Credential.prefix == prefix, Credential.revoked_at.is_(None))
        ).one_or_none()
        if row is None or not hmac.compare_digest(row[0].key_hash, key_hash(key)):
            return None
        return self._credential_member(row[0], row[1])

    def credential_by_prefix(self, prefix: str) -> Member | None:
        """The live credential with this public id (for WS-Security digests), or None."""
        row = self._session.execute(
            select(Credential, Tenant.code)
            .join(Tenant, Tenant.id == Credential.tenant_id)
            .where(Credential.prefix == prefix, Credential.revoked_at.is_(None))
        ).one_or_none()
        return None if row is None else self._credential_member(row[0], row[1])

    def credential_by_id(self, credential_id: int) -> Member | None:
        """The live credential with this id (a client certificate names it), or None."""
        row = self._session.execute(
            select(Credential, Tenant.code)
            .join(Tenant, Tenant.id == Credential.tenant_id)
            .where(Credential.id == credential_id, Credential.revoked_at.is_(None))
        ).one_or_none()
        return None if row is None else self._credential_member(row[0], row[1])

    def credentials(self, tenant: str | None = None) -> list[CredentialInfo]:
        query = select(Credential, Tenant.code).join(Tenant, Tenant.id == Credential.tenant_id)
        if tenant is not None:
            query = query.where(Tenant.code == tenant)
        found = []
        for cred, code in self._session.execute(query.order_by(Tenant.code, Credential.name)):
            roles = tuple(sorted(self._roles_of(Kind.CREDENTIAL, cred.id, cred.tenant_id)))
            allow = tuple(a for a in cred.allow.split(",") if a)
            found.append(
                CredentialInfo(cred.prefix, code, cred.name, roles, allow, cred.created_at,
                               cred.revoked_at, cred.digest_secret is not None)
            )  # fmt: skip
        return found

    def revoke_credential(self, prefix: str, *, actor: str, tenant: str | None = None) -> None:
        query = select(Credential.id, Tenant.code).join(Tenant, Tenant.id == Credential.tenant_id)
        query = query.where(Credential.prefix == prefix, Credential.revoked_at.is_(None))
        if tenant is not None:
            query = query.where(Tenant.code == tenant)
        row = self._session.execute(query).one_or_none()
        if row is None:
            raise UnknownObjectError(f"no live credential {prefix!r}", object_id=prefix)
        self._session.execute(
            update(Credential).where(Credential.id == row.id).values(revoked_at=int(time.time()))
        )
        self.audit.record(actor, "credential.revoke", f"credential:{prefix}", tenant=row.code)

    # ---- users -------------------------------------------------------------------------

    def create_user(self, tenant: str, name: str, password: str, roles: list[str], *,
                    actor: str) -> None:  # fmt: skip
        if len(password) < 12:
            raise InvalidValueError("a password needs at least 12 characters")
        tenant_id = self._tenant_id(tenant)
        role_ids = self._role_ids(roles)
        if self._session.scalar(select(User.id).where(User.name == name)) is not None:
            raise DomainRuleError(f"user {name!r} exists already", object_id=name)
        row = User(tenant_id=tenant_id, name=name, password_hash=_hasher.hash(password),
                   created_at=int(time.time()))  # fmt: skip
        self._session.add(row)
        self._session.flush()
        self._set_roles(Kind.USER, row.id, role_ids, tenant_id)
        self.audit.record(actor, "user.create", f"user:{name}", tenant=tenant,
                          after={"name": name, "roles": sorted(roles)})  # fmt: skip

    def user_by_password(self, name: str, password: str) -> Member | None:
        found = self.active_user(name)
        if found is None:
            dummy_verify(password)  # the same work whether or not the user exists
            return None
        member, password_hash = found
        return member if verify_password(password_hash, password) else None

    def active_user(self, name: str) -> tuple[Member, str] | None:
        """An active user and its password hash (for checks of its own), or None."""
        row = self._session.execute(
            select(User, Tenant.code)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(User.name == name, User.disabled_at.is_(None))
        ).one_or_none()
        if row is None:
            return None
        return self._user_member(row[0], row[1]), row[0].password_hash

    def user_member(self, user_id: int) -> Member | None:
        """The active user with this id (its roles as they are now), or None."""
        row = self._session.execute(
            select(User, Tenant.code)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(User.id == user_id, User.disabled_at.is_(None))
        ).one_or_none()
        return None if row is None else self._user_member(row[0], row[1])

    def users(self, tenant: str | None = None) -> list[tuple[str, str, tuple[str, ...], bool]]:
        """(tenant, name, roles, disabled) of every user."""
        query = select(User, Tenant.code).join(Tenant, Tenant.id == User.tenant_id)
        if tenant is not None:
            query = query.where(Tenant.code == tenant)
        return [
            (
                code,
                u.name,
                tuple(sorted(self._roles_of(Kind.USER, u.id, u.tenant_id))),
                u.disabled_at is not None,
            )
            for u, code in self._session.execute(query.order_by(Tenant.code, User.name))
        ]

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        """A new password for an active user (the old one stops working at commit)."""
        if len(password) < 12:
            raise InvalidValueError("a password needs at least 12 characters")
        row = self._session.execute(
            select(User.id, Tenant.code).join(Tenant, Tenant.id == User.tenant_id)
            .where(User.name == name, User.disabled_at.is_(None))
        ).one_or_none()  # fmt: skip
        if row is None:
            raise UnknownObjectError(f"no active user {name!r}", object_id=name)
        self._session.execute(
            update(User).where(User.id == row.id).values(password_hash=_hasher.hash(password))
        )
        self.audit.record(actor, "user.password", f"user:{name}", tenant=row.code)
        self._end_sessions(row.id, row.code, name, "password", actor)

    def disable_user(self, name: str, *, actor: str) -> None:
        row = self._session.execute(
            select(User.id, Tenant.code).join(Tenant, Tenant.id == User.tenant_id)
            .where(User.name == name, User.disabled_at.is_(None))
        ).one_or_none()  # fmt: skip
        if row is None:
            raise UnknownObjectError(f"no active user {name!r}", object_id=name)
        self._session.execute(
            update(User).where(User.id == row.id).values(disabled_at=int(time.time()))
        )
        self.audit.record(actor, "user.disable", f"user:{name}", tenant=row.code)
        self._end_sessions(row.id, row.code, name, "disabled", actor)

    def replace_roles(self, kind: Kind, name: str, roles: list[str], *, actor: str) -> None:
        """Give a live credential (by public id) or an active user exactly ``roles``."""
        role_ids = self._role_ids(roles)
        if kind is Kind.CREDENTIAL:
            query = select(Credential.id, Credential.tenant_id, Tenant.code).join(
                Tenant, Tenant.id == Credential.tenant_id
            )
            query = query.where(Credential.prefix == name, Credential.revoked_at.is_(None))
        else:
            query = select(User.id, User.tenant_id, Tenant.code).join(
                Tenant, Tenant.id == User.tenant_id
            )
            query = query.where(User.name == name, User.disabled_at.is_(None))
        row = self._session.execute(query).one_or_none()
        if row is None:
            raise UnknownObjectError(f"no live {kind.value} {name!r}", object_id=name)
        before = sorted(self._roles_of(kind, row.id, row.tenant_id))
        self._session.execute(
            delete(MemberRole).where(
                MemberRole.kind == kind.value,
                MemberRole.member_id == row.id,
                MemberRole.tenant_id == row.tenant_id,
            )
        )
        self._set_roles(kind, row.id, role_ids, row.tenant_id)
        self.audit.record(actor, f"{kind.value}.roles", f"{kind.value}:{name}", tenant=row.code,
                          before={"roles": before}, after={"roles": sorted(roles)})  # fmt: skip

    # ---- roles and grants --------------------------------------------------------------

    def grants(self) -> dict[str, frozenset[str]]:
        """Every role and the permission patterns it grants."""
        found: dict[str, set[str]] = {
            name: set() for name in self._session.scalars(select(Role.name))
        }
        rows = self._session.execute(
            select(Role.name, RoleGrant.permission).join(RoleGrant, RoleGrant.role_id == Role.id)
        )
        for role, permission in rows:
            found[role].add(permission)
        return {role: frozenset(p) for role, p in found.items()}

    def grant(self, role: str, permission: str, *, actor: str) -> None:
        """Let ``role`` do ``permission`` (a pattern); the role is created if new."""
        role_id = self._session.scalar(select(Role.id).where(Role.name == role))
        if role_id is None:
            new = Role(name=role, description="")
            self._session.add(new)
            self._session.flush()
            role_id = new.id
            self.audit.record(actor, "role.create", f"role:{role}")
        held = self._session.get(RoleGrant, (role_id, permission))
        if held is None:
            self._session.add(RoleGrant(role_id=role_id, permission=permission))
            self._session.flush()
            self.audit.record(actor, "role.grant", f"role:{role}", after={"permission": permission})

    def revoke(self, role: str, permission: str, *, actor: str) -> None:
        role_id = self._session.scalar(select(Role.id).where(Role.name == role))
        if role_id is None:
            raise UnknownObjectError(f"no role {role!r}", object_id=role)
        gone = self._session.execute(
            delete(RoleGrant).where(
                RoleGrant.role_id == role_id, RoleGrant.permission == permission
            )
        ).rowcount
        if not gone:
            raise UnknownObjectError(f"role {role!r} does not grant {permission!r}", object_id=role)
        self.audit.record(actor, "role.revoke", f"role:{role}", before={"permission": permission})

    # ---- WS-Security nonces ------------------------------------------------------------

    def nonce_is_fresh(self, nonce: str, now: int, window: int) -> bool:
        """Remember ``nonce``; False when it was already seen inside the replay window."""
        self._session.execute(delete(SeenNonce).where(SeenNonce.seen_at < now - window))
        if self._session.get(SeenNonce, nonce) is not None:
            return False
        self._session.add(SeenNonce(nonce=nonce, seen_at=now))
        self._session.flush()
        return True

    # ---- helpers -----------------------------------------------------------------------

    def _end_sessions(self, user_id: int, tenant: str, name: str, why: str, actor: str) -> None:
        from cimhub.domain.session import EndReason
        from cimhub.store.sessions import Sessions

        Sessions(self._uow).end_all(user_id, EndReason(why), actor=actor, tenant=tenant,
                                    user=name, now=int(time.time()))  # fmt: skip

    def _user_member(self, user: User, tenant: str) -> Member:
        roles = self._roles_of(Kind.USER, user.id, user.tenant_id)
        return Member(user.id, Kind.USER, user.name, tenant, roles, self._permissions(roles))

    def _credential_member(self, cred: Credential, tenant: str) -> Member:
        roles = self._roles_of(Kind.CREDENTIAL, cred.id, cred.tenant_id)
        allow = tuple(a for a in cred.allow.split(",") if a)
        return Member(cred.id, Kind.CREDENTIAL, cred.name, tenant, roles,
                      self._permissions(roles), allow, cred.digest_secret)  # fmt: skip

    def _permissions(self, roles: frozenset[str]) -> frozenset[str]:
        return permissions_of(roles, self.grants())

    def _roles_of(self, kind: Kind, member_id: int, tenant_id: int) -> frozenset[str]:
        """The roles of the member ``member_id`` of tenant ``tenant_id``."""
        return frozenset(
            self._session.scalars(
                select(Role.name)
                .join(MemberRole, MemberRole.role_id == Role.id)
                .where(
                    MemberRole.kind == kind.value,
                    MemberRole.member_id == member_id,
                    MemberRole.tenant_id == tenant_id,
                )
            )
        )

    def _set_roles(self, kind: Kind, member_id: int, role_ids: list[int], tenant_id: int) -> None:
        """Give a member of ``tenant_id`` the roles; the rows are that tenant's."""
        for role_id in role_ids:
            self._session.add(MemberRole(kind=kind.value, member_id=member_id, role_id=role_id,
                                         tenant_id=tenant_id))  # fmt: skip
        self._session.flush()

    def _role_ids(self, roles: list[str]) -> list[int]:
        if not roles:
            raise InvalidValueError("name at least one role")
        ids = dict(
            self._session.execute(select(Role.name, Role.id).where(Role.name.in_(roles))).all()
        )
        missing = sorted(set(roles) - set(ids))
        if missing:
            raise UnknownObjectError(f"unknown role(s): {', '.join(missing)}", object_id=missing[0])
        return [ids[r] for r in roles]

    def _tenant_id(self, tenant: str) -> int:
        found = self._uow.tenants.find(tenant)
        if found is None:
            raise UnknownObjectError(f"unknown tenant {tenant!r}", object_id=tenant)
        return found


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` is the one hashed (Argon2id)."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """As much work as ``verify_password``, for a user that does not exist (no timing leak)."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


def decrypt_key(token: str, cipher: Fernet) -> str | None:
    try:
        return cipher.decrypt(token.encode()).decode()
    except InvalidToken:
        return None
