"""Who published an AMQP message: RabbitMQ's validated ``user_id`` mapped to a credential.

Each external system gets its own RabbitMQ user named after its credential's public id
(``ck_…``) and sets the ``user_id`` message property, which RabbitMQ refuses unless it is
the publishing connection's own user. The worker then treats the message as sent by that
credential: its tenant (a ``cimhub-tenant`` header naming another is refused, 6.2) and its
roles (the pipeline checks the noun and verb). Messages the hub published itself carry the
hub's broker user; a retried external message keeps its sender in ``cimhub-sender``.

Until authentication is configured (no credential, user or JWT key), messages without a
``user_id`` are accepted as before; afterwards they are refused (6.1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from sqlalchemy.orm import Session

from cimhub.bus import topology
from cimhub.bus.broker import BusMessage
from cimhub.domain.access import Principal
from cimhub.errors import NotAuthenticatedError, NotPermittedError, StorageUnavailableError
from cimhub.settings import Settings
from cimhub.store.cache import StoreCache
from cimhub.store.database import UNAVAILABLE, Database
from cimhub.store.security import Member, Security
from cimhub.store.unit_of_work import UnitOfWork

_RECHECK_SECONDS = 2.0


class Senders:
    def __init__(self, settings: Settings, database: Database, own_user: str | None) -> None:
        self.settings = settings
        self.database = database
        self.own_user = own_user  # None: the in-process bus (no external publishers)
        self._cache = StoreCache()
        self._secured = bool(
            settings.jwt_secret or settings.jwt_secret_file or settings.jwt_public_key_file
        )
        self._checked_at: float | None = None

    def sender_id(self, message: BusMessage) -> str | None:
        """The credential id the message is from; None for the hub's own (or anonymous)."""
        if not message.user_id:
            return None
        if message.user_id == self.own_user:
            return str(message.headers.get(topology.H_SENDER) or "") or None
        return message.user_id

    def principal(self, message: BusMessage) -> Principal | None:
        """The sending credential's principal; None for the hub's own messages (checked at
        their edge) and, while nothing is configured, for anonymous ones."""
        if self.own_user is None:
            return None
        sender = self.sender_id(message)
        if sender is None:
            if message.user_id == self.own_user or not self.configured():
                return None
            raise NotAuthenticatedError("not authenticated: an AMQP message without user_id")
        member = self._member(sender)
        if member is None:
            raise NotAuthenticatedError(f"not authenticated: no live credential {sender!r}")
        named = str(message.headers.get(topology.H_TENANT) or "").strip()
        if named and named != member.tenant:
            raise NotPermittedError(
                f"{member.name!r} is bound to tenant {member.tenant!r}, not {named!r}"
            )
        return member.principal()

    def configured(self) -> bool:
        """Raises StorageUnavailableError when it cannot tell (the worker waits then)."""
        if self._secured:
            return True
        now = time.monotonic()
        if self._checked_at is None or now - self._checked_at >= _RECHECK_SECONDS:
            with self._reading() as security:
                self._secured = security.configured()
            self._checked_at = now
        return self._secured

    def _member(self, prefix: str) -> Member | None:
        with self._reading() as security:
            return security.credential_by_prefix(prefix)

    @contextmanager
    def _reading(self) -> Iterator[Security]:
        try:
            with (
                Session(self.database.engine) as session,
                closing(UnitOfWork(session, self._cache, hub=True)) as uow,
            ):
                yield Security(uow)
        except UNAVAILABLE as error:
            raise StorageUnavailableError(f"storage unavailable: {error}") from error
