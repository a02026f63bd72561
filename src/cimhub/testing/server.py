"""A real hub listening on a free loopback port, in a thread: for tests over real HTTP/SOAP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from cimhub.app import Hub
from cimhub.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_hub(settings: Settings) -> Iterator[tuple[Hub, str]]:
    """Build a hub from `settings`, serve it on 127.0.0.1:<free port>, yield (hub, base URL)."""
    hub = Hub.build(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            hub.web_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, name="cimhub-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # poll with a bound, never sleep blindly
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.02)
    else:
        raise RuntimeError("the test hub did not start")
    try:
        yield hub, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()


@contextmanager
def running_https_hub(settings: Settings) -> Iterator[tuple[Hub, int]]:
    """Build a hub and serve it over TLS as `cimhub serve` would (its TLS options, client
    certificates included) on 127.0.0.1:<free port>; yield (hub, port)."""
    from cimhub.cli import tls_options

    hub = Hub.build(settings)
    port = free_port()
    config = uvicorn.Config(
        hub.web_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        **tls_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="cimhub-test-https", daemon=True)
    thread.start()
    try:
        for _ in range(300):  # poll with a bound
            if server.started:
                break
            thread.join(0.05)
        if not server.started:
            raise RuntimeError("the test hub did not start")
        yield hub, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()
