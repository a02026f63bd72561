"""The suite against real endpoints: `cimhub serve` as a subprocess, and the fakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.loader import Suite, load_cases
from cimhub.conformance.runner import Options, Runner, RunReport, Status
from cimhub.conformance.transport import Target
from cimhub.testing.server import free_port

#: The hub settings the mdm cases assume (conformance/README.md, "Preparing the system").
HUB_ENV = {
    "CIMHUB_PAGE_SIZE": "100",  # below the 288 readings of the paging case
    "CIMHUB_MAX_MESSAGE_BYTES": "2000000",  # the oversize case sends one byte more
}
MAX_MESSAGE_BYTES = int(HUB_ENV["CIMHUB_MAX_MESSAGE_BYTES"])

#: Cases our own hub fails for a known defect outside the conformance suite, each with a
#: comment naming it. A fix makes the conformance tests fail until its line here goes.
KNOWN_HUB_DEFECTS: set[str] = set()


@contextmanager
def cimhub_process(
    args: list[str], workdir: Path, settings: dict[str, str], log_name: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`cimhub ARGS…` in a subprocess with only ``settings`` as its CIMHUB_* environment
    (output to ``workdir/log_name``); terminated afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMHUB_")} | settings
    log = workdir / log_name
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cimhub.cli", *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        yield process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def served_hub(database_url: str, workdir: Path, **settings: str) -> Iterator[str]:
    """`cimhub serve` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    env = HUB_ENV | settings | {"CIMHUB_DATABASE_URL": database_url}
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with cimhub_process(serve, workdir, env, "hub.log") as (process, log):
        base = f"http://127.0.0.1:{port}"
        _wait_until_ready(base, process, log)
        yield base


def _wait_until_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # poll with a bound
        if process.poll() is not None:
            raise RuntimeError(f"cimhub serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"cimhub serve did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="session")
def suite() -> Suite:
    return load_cases()


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Our hub, served by a real `cimhub serve` process, on each backend."""
    with served_hub(database_url, tmp_path) as base:
        yield base


class Harness:
    """What the conformance tests share: run the suite, read its failures, serve a hub."""

    known_hub_defects = KNOWN_HUB_DEFECTS
    hub_env = HUB_ENV
    serve_hub = staticmethod(served_hub)
    process = staticmethod(cimhub_process)

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def run(
        self, role: Role, transport: str, base: str, *targets: str, **options: object
    ) -> RunReport:
        """Run `role`'s cases against `targets`, by default base + /cim (http) or base +
        /soap (soap)."""
        targets = targets or (f"{base}/cim" if transport == "http" else f"{base}/soap",)
        defaults: dict[str, object] = {"max_message_bytes": MAX_MESSAGE_BYTES}
        opts = Options(role, transport, Target(targets, timeout=30), **(defaults | options))
        return Runner(self.suite, opts).run()

    @staticmethod
    def failed(report: RunReport) -> dict[str, str]:
        """Failed case id → all its problems, diffs included (for assertion messages)."""
        return {
            r.case.id: "\n".join(p.text + ("\n" + p.diff if p.diff else "") for p in r.problems)
            for r in report.results
            if r.status is Status.FAILED
        }


@pytest.fixture(scope="session")
def harness(suite: Suite) -> Harness:
    return Harness(suite)
