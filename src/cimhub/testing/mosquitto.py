"""A Mosquitto broker of a test's own: the machine's ``mosquitto`` binary in a subprocess,
on a free loopback port, with the configuration lines the test gives (e.g. the files
``cimhub mqtt acl`` wrote)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cimhub.testing.server import free_port


@contextmanager
def mosquitto(config: str, workdir: Path) -> Iterator[int]:
    """Run ``mosquitto`` with a listener on 127.0.0.1:<free port> plus ``config``; yield
    the port once it accepts connections; stop it afterwards (its log: workdir/mosquitto.log)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # as root, mosquitto would switch to its own user, who cannot read the test's files
    conf.write_text(f"listener {port} 127.0.0.1\nuser root\n{config}")
    log = workdir / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "-c", str(conf), "-v"], stdout=out, stderr=out)
    try:
        _wait_for(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # poll with a bound
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not start:\n{log.read_text()}")
