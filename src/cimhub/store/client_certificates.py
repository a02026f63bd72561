"""X.509 client certificates bound to system credentials (0006_client_certs): by the
certificate's SHA-256 fingerprint (that one certificate) or by its subject (any
certificate with that subject the trusted CA issues, so renewals keep working)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Integer, Row, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.errors import InvalidValueError, UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.models import Base, Tenant
from cimhub.store.security_models import Credential

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

KINDS = ("sha256", "subject")


class CredentialCertificate(Base):
    """One way a client certificate names a credential: ``kind`` sha256 | subject."""

    __tablename__ = "credential_certificate"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_credential_certificate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    credential_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(1000))  # hex fingerprint or RFC 4514 subject


class ClientCertificates:
    def __init__(self, uow: UnitOfWork) -> None:
        self._session = uow.session
        self.audit = AuditLog(uow)

    def bind(self, prefix: str, kind: str, value: str, *, actor: str) -> None:
        """Let a certificate with this fingerprint or subject act as the live credential."""
        if kind not in KINDS or not value:
            raise InvalidValueError(f"bind a certificate by {' or '.join(KINDS)}")
        row = self._credential(prefix)
        taken = self._session.scalar(
            select(CredentialCertificate.credential_id).where(
                CredentialCertificate.kind == kind, CredentialCertificate.value == value
            )
        )
        if taken is not None and taken != row.id:
            raise InvalidValueError(f"that certificate {kind} is bound to another credential")
        if taken is None:
            self._session.add(
                CredentialCertificate(
                    tenant_id=row.tenant_id, credential_id=row.id, kind=kind, value=value
                )
            )
            self._session.flush()
        self.audit.record(
            actor,
            "credential.certificate",
            f"credential:{prefix}",
            tenant=row.code,
            after={kind: value},
        )

    def unbind(self, prefix: str, *, actor: str) -> int:
        """Forget every certificate of the credential; how many there were."""
        row = self._credential(prefix)
        gone = self._session.execute(
            delete(CredentialCertificate).where(CredentialCertificate.credential_id == row.id)
        ).rowcount
        self.audit.record(
            actor,
            "credential.certificate.remove",
            f"credential:{prefix}",
            tenant=row.code,
            before={"certificates": gone},
        )
        return int(gone)

    def credential_of(self, fingerprint: str, subject: str) -> int | None:
        """The credential a certificate names: by its fingerprint first, else its subject."""
        for kind, value in (("sha256", fingerprint), ("subject", subject)):
            found = self._session.scalar(
                select(CredentialCertificate.credential_id).where(
                    CredentialCertificate.kind == kind, CredentialCertificate.value == value
                )
            )
            if found is not None:
                return int(found)
        return None

    def _credential(self, prefix: str) -> Row[tuple[int, int, str]]:
        """The live credential's id, tenant id and tenant code."""
        row = self._session.execute(
            select(Credential.id, Credential.tenant_id, Tenant.code)
            .join(Tenant, Tenant.id == Credential.tenant_id)
            .where(Credential.prefix == prefix, Credential.revoked_at.is_(None))
        ).one_or_none()
        if row is None:
            raise UnknownObjectError(f"no live credential {prefix!r}", object_id=prefix)
        return row
