"""Test helpers for authentication: a store provisioned with credentials and a user, and
the handles of a hub secured with them (keys, a JWT factory)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import jwt

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.security import Security, fernet

JWT_SECRET = "test-only-hs256-secret-of-some-length"
SECRET_KEY = "test-only-hub-secret-key"
PASSWORD = "correct horse battery staple"


@dataclass
class Secured:
    hub: Hub
    base: str
    keys: dict[str, str]  # credential name → API key
    settings: Settings

    def token(self, **claims: object) -> str:
        """An HS256 bearer token for tenant a, role operator, unless ``claims`` say else."""
        body = {
            "sub": "idp-user",
            "tenant": "a",
            "roles": ["operator"],
            "aud": "cimhub",
            "exp": int(time.time()) + 300,
            **claims,
        }
        return jwt.encode(body, JWT_SECRET, algorithm="HS256")


#: (tenant, credential name, role, allowed networks) provisioned by :func:`provision`.
CREDENTIALS = (
    ("a", "hes-a", "HES system", ()),
    ("a", "ro-a", "read-only", ()),
    ("a", "admin-a", "administrator", ()),
    ("a", "op-a", "operator", ()),
    ("b", "ro-b", "read-only", ()),
    ("a", "far-hes", "HES system", ("10.0.0.0/8",)),
    ("a", "near-hes", "HES system", ("127.0.0.0/8", "::1/128")),
)


def provision(database_url: str) -> dict[str, str]:
    """Tenants a and b, the credentials above, a digest-capable HES credential and the user
    'asha' (operator, :data:`PASSWORD`); returns every API key by credential name."""
    database = Database.migrated(database_url)
    keys = {}
    with database.unit_of_work(hub=True) as uow:
        uow.tenants.ensure("a")
        uow.tenants.ensure("b")
        security = Security(uow)
        for tenant, name, role, allow in CREDENTIALS:
            keys[name] = security.create_credential(tenant, name, [role], actor="test", allow=allow)
        keys["digest-hes"] = security.create_credential(
            "a", "digest-hes", ["HES system"], actor="test", digest_cipher=fernet(SECRET_KEY)
        )
        security.create_user("a", "asha", PASSWORD, ["operator"], actor="test")
    database.dispose()
    return keys


@contextmanager
def rabbitmq_user(vhost_name: str, user: str, password: str) -> Iterator[str]:
    """A RabbitMQ user (e.g. a credential's public id) with every permission on the vhost;
    yields its AMQP URL, deletes the user afterwards."""
    from cimhub.testing import rabbitmq

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_user", user, password)
    try:
        ctl("set_permissions", "-p", vhost_name, user, ".*", ".*", ".*")
        yield rabbitmq.url(vhost_name).replace("guest:guest@", f"{user}:{password}@", 1)
    finally:
        ctl("delete_user", user)


def as_change(body: bytes, user: str, comment: str) -> bytes:
    """The same readings as a ChangeMeterReadings edit, with who and why."""
    return (
        body.replace(b"CreatedMeterReadings", b"ChangeMeterReadings")
        .replace(b">created<", b">change<")
        .replace(b"<msg:MessageID>", f"<msg:User><msg:UserID>{user}</msg:UserID></msg:User>"
                 "<msg:MessageID>".encode())
        .replace(b"</Header>", f"<msg:Comment>{comment}</msg:Comment></Header>".encode())
    )  # fmt: skip
