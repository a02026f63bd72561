"""Subscription credentials sealed at rest: Fernet with the hub's secret key.

The key comes from ``CIMHUB_SECRET_KEY``, else the file ``CIMHUB_SECRET_KEY_FILE`` (any
length; its SHA-256 makes the Fernet key, as for WS-Security digest secrets). There is no
default key: without one, credentials are refused rather than stored readable. Sealed
values carry a prefix (``SEALED``) so the store can refuse anything else; a value stored
before sealing existed is still used, with a warning to store it again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.fernet import InvalidToken

from cimhub.errors import TechnicalError
from cimhub.settings import Settings
from cimhub.store.security import fernet
from cimhub.store.subscriptions import SEALED

log = logging.getLogger("cimhub.credentials")
NO_KEY = (
    "subscription credentials cannot be stored: this hub has no secret key "
    "(set CIMHUB_SECRET_KEY or CIMHUB_SECRET_KEY_FILE)"
)


class CredentialBox:
    """Seals credentials for the store and opens them for delivery."""

    def __init__(self, secret: str | None) -> None:
        self._fernet = fernet(secret) if secret else None

    @classmethod
    def of(cls, settings: Settings) -> CredentialBox:
        """The box of the configured key (the variable, else the file), or a box without."""
        secret = settings.secret_key
        if not secret and settings.secret_key_file:
            secret = Path(settings.secret_key_file).read_text(encoding="utf-8").strip()
        return cls(secret or None)

    def seal(self, credentials: str | None) -> str | None:
        """The stored form of ``credentials``; refuses (5.2) when there is no key."""
        if not credentials:
            return None
        if credentials.startswith(SEALED):
            return credentials  # already sealed (a subscription read back and put again)
        if self._fernet is None:
            raise TechnicalError(NO_KEY)
        return SEALED + self._fernet.encrypt(credentials.encode()).decode()

    def open(self, stored: str | None, subscription: str) -> str | None:
        """The credentials to send to the subscriber (5.2 when they cannot be opened)."""
        if not stored:
            return None
        if not stored.startswith(SEALED):
            log.warning(
                "subscription %s has credentials stored unsealed; put it again to seal them",
                subscription,
            )
            return stored
        if self._fernet is None:
            raise TechnicalError(f"credentials of subscription {subscription}: {NO_KEY}")
        try:
            return self._fernet.decrypt(stored[len(SEALED) :].encode()).decode()
        except InvalidToken as exc:
            raise TechnicalError(
                f"credentials of subscription {subscription} were sealed with another key"
            ) from exc
