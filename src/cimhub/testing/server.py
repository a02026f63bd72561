"""A real hub listening on a free loopback port, in a thread: for tests over real HTTP/SOAP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

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
    with ExitStack() as stack:  # closed however we leave, a failed start included
        hub = Hub.build(settings)
        stack.callback(hub.close)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                hub.web_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
        )
        stack.enter_context(_serving(server, "cimhub-test-server"))
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
        yield hub, base


@contextmanager
def running_https_hub(settings: Settings) -> Iterator[tuple[Hub, int]]:
    """Build a hub and serve it over TLS as `cimhub serve` would (its TLS options, client
    certificates included) on 127.0.0.1:<free port>; yield (hub, port)."""
    from cimhub.cli import tls_options

    with ExitStack() as stack:  # closed however we leave, a failed start included
        hub = Hub.build(settings)
        stack.callback(hub.close)
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
        thread = stack.enter_context(_serving(server, "cimhub-test-https"))
        for _ in range(300):  # poll with a bound
            if server.started:
                break
            thread.join(0.05)
        if not server.started:
            raise RuntimeError("the test hub did not start")
        yield hub, port


@contextmanager
def _serving(server: uvicorn.Server, name: str) -> Iterator[threading.Thread]:
    """Run ``server`` in a thread until the block ends."""
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        server.should_exit = True
        thread.join(timeout=10)
