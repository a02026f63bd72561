"""Peak memory of one message per size, each size in a fresh subprocess.

The child installs the meters at usage points (``bench.masterdata``), processes a warm-up
message (imports, compiled schemas, one reading a meter), resets the kernel's peak-RSS
mark, then processes the measured message (the same meters, the next day): peak RSS
above the resting RSS is what the message cost, libxml2's tree and the day's billing
aggregates included. A second message is then traced with ``tracemalloc`` for the
Python objects alone. Message bytes come from files, so their generation costs nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from cimhub.bench.context import Context
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import message, size_label

FILES = ("warm.xml", "measured.xml", "traced.xml")


def run(ctx: Context) -> list[Figure]:
    backend = "postgresql" if "postgresql" in ctx.backends else ctx.backends[0]
    figures = []
    sizes = ctx.plan.sizes
    with ctx.task(f"memory per message size ({backend})", len(sizes)) as advance:
        for size in sizes:
            figures.append(_measure(backend, size, ctx.plan.intervals))
            advance(1)
    return figures


def _measure(backend: str, size: int, intervals: int) -> Figure:
    with tempfile.TemporaryDirectory(prefix="cimhub-bench-memory-") as directory:
        folder = Path(directory)
        meters = range(1, size + 1)
        # The warm-up registers the meters with one reading each: a small tree, so the
        # measured message cannot reuse the warm-up's freed heap and hide its own.
        folder.joinpath(FILES[0]).write_bytes(message(meters, 0, 1, "mem"))
        for day, name in enumerate(FILES[1:], 1):
            folder.joinpath(name).write_bytes(message(meters, day, intervals, "mem"))
        size_bytes = folder.joinpath(FILES[1]).stat().st_size
        child = subprocess.run(
            [sys.executable, "-m", "cimhub.bench.memory", backend, directory, str(size)],
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    readings = size * intervals
    return Figure(
        "memory",
        (size_label(size, intervals),),
        {
            "message_bytes": size_bytes,
            "rss_peak": measured["rss_peak"],
            "rss_per_reading": measured["rss_peak"] / readings,
            "py_peak": measured["py_peak"],
            "py_per_reading": measured["py_peak"] / readings,
            "rss_exact": float(measured["rss_exact"]),
        },
    )


def _rss() -> int:
    """Current resident set size in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _settle() -> None:
    """Collect garbage and hand free heap back to the system (glibc), for a true rest."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak() -> int:
    """The peak RSS (VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise OSError("no VmHWM")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _child(backend: str, folder: Path, size: int) -> dict[str, Any]:
    from contextlib import ExitStack

    from cimhub.bench.context import TENANT
    from cimhub.bench.ingest import send
    from cimhub.bench.masterdata import install_meters
    from cimhub.bench.traffic import START
    from cimhub.bus.pipeline import Pipeline
    from cimhub.handlers.registry import default_registry
    from cimhub.settings import Settings
    from cimhub.store.database import Database
    from cimhub.testing.databases import postgres_database, sqlite_url

    with ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(postgres_database("cimhub_bench"))
        else:
            url = sqlite_url(folder)
        database = stack.enter_context(Database(url))  # disposed even if upgrade fails
        database.upgrade()
        install_meters(database, TENANT, range(1, size + 1), START)
        pipeline = Pipeline(Settings(database_url=url), database, default_registry())
        warm, measured, traced = (folder.joinpath(name).read_bytes() for name in FILES)
        send(pipeline, warm)
        del warm
        _settle()
        exact = _reset_peak()
        resting = _rss() if exact else _peak()
        send(pipeline, measured)
        rss_peak = max(0, _peak() - resting)
        del measured
        _settle()
        tracemalloc.start()
        send(pipeline, traced)
        py_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"rss_peak": rss_peak, "py_peak": py_peak, "rss_exact": exact}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))))
