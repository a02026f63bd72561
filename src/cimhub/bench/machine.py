"""What a run ran on (machine, versions, date), and pinning to one core per process."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from cimhub import __version__

#: The core the benchmark process runs on; PostgreSQL backends get the others.
BENCH_CPU = 0


def cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def pin_self() -> str:
    """Pin this process to one core, as one worker process would run; says what it did."""
    available = cpus()
    if len(available) < 2 or BENCH_CPU not in available:
        return "not pinned (fewer than two cores)"
    os.sched_setaffinity(0, {BENCH_CPU})
    return f"benchmark process on core {BENCH_CPU}, PostgreSQL backends on the others"


def pin_postgres_backend(dbapi_connection: Any, _record: Any = None) -> None:
    """SQLAlchemy "connect" hook: move this connection's server process off our core."""
    others = (set(range(os.cpu_count() or 1))) - {BENCH_CPU}
    if not others:
        return
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with contextlib.suppress(OSError):  # another user's process, or a remote server
        os.sched_setaffinity(pid, others)


def info(postgres_version: str | None) -> dict[str, str]:
    """Machine, versions and date, for the results table."""
    from lxml import etree

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gb()} GB RAM",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cimhub": f"{__version__} ({_git_commit()})",
        "lxml": f"{etree.__version__} (libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))})",
        "psycopg": _version("psycopg"),
        "SQLAlchemy": _version("sqlalchemy"),
        "PostgreSQL": postgres_version or "not available",
        "SQLite": sqlite3.sqlite_version,
        "load average at start": load_average(),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "?"
    return f"{pages / 2**30:.0f}"


def _git_commit() -> str:
    try:
        run = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "no git"
    dirty = ""
    if run.returncode == 0:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        dirty = "+changes" if status.stdout.strip() else ""
    return run.stdout.strip() + dirty if run.returncode == 0 else "no git"
