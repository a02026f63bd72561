"""Session tables (0006_sessions): users' interactive sessions, their failed-login
counters and the tenants' concurrent-session limits.

A session token is never stored: like an API key it is ``cs_<12 hex>.<43 url-safe
chars>``, of which the part before the dot (``public_id``) names the session in listings
and revocations, and the whole is kept as its SHA-256 (256 random bits need no slow hash).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId


class LoginSession(Base):
    """One interactive session of a user; ended sessions stay (with why) until pruned."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)  # the absolute lifetime's end
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    end_reason: Mapped[str | None] = mapped_column(String(16))


class LoginFailure(Base):
    """A user's failed logins in a row and, once too many, the end of the lock."""

    __tablename__ = "login_failure"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[int] = mapped_column(BigInteger, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)


class SessionLimit(Base):
    """A tenant's concurrent-session limit for users of one role ('' = every role);
    ``on_limit`` (evict | refuse) counts on the every-role row only."""

    __tablename__ = "session_limit"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_sessions: Mapped[int] = mapped_column(Integer)
    on_limit: Mapped[str] = mapped_column(String(8), default="evict")
