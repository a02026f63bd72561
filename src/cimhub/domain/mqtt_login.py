"""A head-end's MQTT broker login: its user name, its topic prefix and its password hash
in Mosquitto's own format (mosquitto_passwd's default since 2.0):
``$7$<iterations>$<base64 12-byte salt>$<base64 PBKDF2-HMAC-SHA512, 64 bytes>``.

The hub generates each head-end's password (256 random bits, so Mosquitto's 101
iterations are plenty), shows it once and keeps only this hash, which is all the broker
needs.

>>> login_name("discom-a", "HES-A")
'discom-a.HES-A'
>>> head_end_prefix("cimhub", "discom-a", "HES-A")
'cimhub/discom-a/HES-A'
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

from cimhub.errors import InvalidValueError

ITERATIONS = 101  # mosquitto_passwd's default
#: A tenant or head-end name that is safe as one topic level and in the broker's files.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class HeadEndLogin:
    """A head-end's broker login: whose it is, its name and hashed password, its vendor."""

    tenant: str
    hes: str
    username: str
    password_hash: str
    vendor: str


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``password`` as a Mosquitto password_file hash (``$7$…``, PBKDF2-HMAC-SHA512)."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def login_name(tenant: str, hes: str) -> str:
    """The broker user of a tenant's head-end; refuses names unsafe in topics or files."""
    for name in (tenant, hes):
        if not SAFE_NAME.match(name):
            raise InvalidValueError(
                f"{name!r} cannot name an MQTT topic level or broker user: use letters, "
                "digits, '.', '_' and '-' only"
            )
    return f"{tenant}.{hes}"


def head_end_prefix(base: str, tenant: str, hes: str) -> str:
    """The topic prefix a tenant's head-end publishes under."""
    return f"{base}/{tenant}/{hes}"
