"""Security tables (0004_security): roles and grants, system credentials, users, the
WS-Security nonce cache and the hash-chained audit log.

Secrets are never stored: an API key is kept as its SHA-256 (the key is 256 random bits,
so a fast hash is enough), a user's password as an Argon2id hash. A credential that
may sign SOAP UsernameToken PasswordDigests keeps its key encrypted with the hub's
secret key (``CIMHUB_SECRET_KEY``), because a digest can only be checked by whoever
knows the password.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, now


class Role(Base):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class RoleGrant(Base):
    """One permission pattern a role grants (see cimhub.domain.access)."""

    __tablename__ = "role_grant"

    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(200), primary_key=True)


class Credential(Base):
    """A system's API key, bound to one tenant; ``prefix`` is its public id."""

    __tablename__ = "credential"
    # One live credential per name and tenant (checked on create; revoked ones keep theirs).
    __table_args__ = (Index("ix_credential_name", "tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    digest_secret: Mapped[str | None] = mapped_column(Text)  # Fernet token, or None
    allow: Mapped[str] = mapped_column(Text, default="")  # CIDRs, comma-separated; '' = any
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class User(Base):
    """A person; ``name`` is the login name, unique across the hub."""

    __tablename__ = "hub_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger)


class MemberRole(Base):
    """A role held by a credential or a user (``kind`` 'credential' | 'user'); a row of
    the member's tenant (0010: under row-level security like the member)."""

    __tablename__ = "member_role"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.id", name="fk_member_role_tenant"), index=True
    )


class SeenNonce(Base):
    """WS-Security nonces seen within the replay window (a repeat is refused)."""

    __tablename__ = "wsse_nonce"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)


class AuditEntry(Base):
    """One audited action; ``hash`` = sha256(canonical JSON of the entry + ``prev_hash``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(100))
    object: Mapped[str] = mapped_column(String(300), default="")
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The one row naming the chain's last entry: appenders lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
