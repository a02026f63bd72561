"""Head-ends' MQTT broker logins (0006_hes_mqtt): one per MQTT head-end endpoint, kept as
Mosquitto's password hash only; issuing, rotating and revoking one is audited."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.mqtt_login import HeadEndLogin, login_name, mosquitto_hash
from cimhub.errors import InvalidValueError, UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.command_models import HesEndpointRow
from cimhub.store.models import Base, Tenant

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class MqttLoginRow(Base):
    """A tenant's head-end's broker user and its Mosquitto password hash."""

    __tablename__ = "hes_mqtt_login"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hes: Mapped[str] = mapped_column(String(100), primary_key=True)
    username: Mapped[str] = mapped_column(String(201), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)


class MqttLogins:
    def __init__(self, uow: UnitOfWork) -> None:
        self._session = uow.session
        self._uow = uow
        self.audit = AuditLog(uow)

    def issue(self, tenant: str, hes: str, *, actor: str) -> tuple[str, str]:
        """A new broker login for the tenant's MQTT head-end (any old one stops working
        once the broker's files are rewritten): (user name, password shown once)."""
        tenant_id = self._tenant_id(tenant)
        endpoint = self._session.get(HesEndpointRow, (tenant_id, hes))
        if endpoint is None or endpoint.kind != "mqtt" or not endpoint.vendor:
            raise InvalidValueError(
                f"{hes!r} is not an MQTT head-end of {tenant!r} "
                f"(cimhub hes endpoint set {hes} --kind mqtt --vendor … --tenant {tenant})"
            )
        username = login_name(tenant, hes)
        holder = self._session.execute(
            select(MqttLoginRow.tenant_id, MqttLoginRow.hes).where(
                MqttLoginRow.username == username
            )
        ).one_or_none()
        if holder is not None and tuple(holder) != (tenant_id, hes):
            raise InvalidValueError(f"broker user {username!r} belongs to another head-end")
        password = secrets.token_urlsafe(32)
        row = self._session.get(MqttLoginRow, (tenant_id, hes))
        action = "mqtt.login.rotate" if row else "mqtt.login.issue"
        if row is None:
            row = MqttLoginRow(tenant_id=tenant_id, hes=hes)
            self._session.add(row)
        row.username, row.password_hash = username, mosquitto_hash(password)
        row.created_at = int(time.time())
        self._session.flush()
        self.audit.record(actor, action, f"hes:{hes}", tenant=tenant, after={"user": username})
        return username, password

    def revoke(self, tenant: str, hes: str, *, actor: str) -> None:
        gone = self._session.execute(
            delete(MqttLoginRow).where(
                MqttLoginRow.tenant_id == self._tenant_id(tenant), MqttLoginRow.hes == hes
            )
        ).rowcount
        if not gone:
            raise UnknownObjectError(f"head-end {hes!r} has no MQTT login", object_id=hes)
        self.audit.record(actor, "mqtt.login.revoke", f"hes:{hes}", tenant=tenant)

    def all(self) -> list[HeadEndLogin]:
        """Every head-end login with its endpoint's vendor (hub-wide: the broker's files)."""
        return [HeadEndLogin(*row) for row in self._session.execute(_LOGINS)]

    def vendor_of(self, tenant: str, hes: str) -> str | None:
        """The vendor profile of a tenant's head-end that has a broker login, else None."""
        query = _LOGINS.where(Tenant.code == tenant, MqttLoginRow.hes == hes)
        row = self._session.execute(query).first()
        return None if row is None else str(row.vendor)

    def _tenant_id(self, tenant: str) -> int:
        found = self._uow.tenants.find(tenant)
        if found is None:
            raise UnknownObjectError(f"unknown tenant {tenant!r}", object_id=tenant)
        return found


_LOGINS = (
    select(Tenant.code, MqttLoginRow.hes, MqttLoginRow.username, MqttLoginRow.password_hash,
           HesEndpointRow.vendor)
    .join(Tenant, Tenant.id == MqttLoginRow.tenant_id)
    .join(HesEndpointRow, (HesEndpointRow.tenant_id == MqttLoginRow.tenant_id)
          & (HesEndpointRow.name == MqttLoginRow.hes))
    .where(HesEndpointRow.kind == "mqtt")
    .order_by(Tenant.code, MqttLoginRow.hes)
)  # fmt: skip
