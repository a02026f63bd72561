"""A fresh RabbitMQ virtual host for a test (rabbitmqctl), deleted afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

RABBITMQ_HOST = os.environ.get("CIMHUB_TEST_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("CIMHUB_TEST_RABBITMQ_PORT", "5672"))


def available() -> bool:
    import socket

    if shutil.which("rabbitmqctl") is None:
        return False
    try:
        socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=1).close()
        return True
    except OSError:
        return False


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def vhost(prefix: str = "cimhub-test") -> Iterator[str]:
    """Yield the name of a new vhost (guest has all permissions); delete it afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    _ctl("add_vhost", name)
    try:
        _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        _ctl("delete_vhost", name)


def url(vhost_name: str, port: int = RABBITMQ_PORT) -> str:
    return f"amqp://guest:guest@{RABBITMQ_HOST}:{port}/{vhost_name}"
