"""What every scenario gets: the plan, the traffic, fresh databases, a wired pipeline."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import event, text

from cimhub.bench.machine import pin_postgres_backend
from cimhub.bench.masterdata import install_meters
from cimhub.bench.plan import Plan
from cimhub.bench.traffic import START, Traffic, traffic
from cimhub.bus.pipeline import Pipeline
from cimhub.handlers.registry import default_registry
from cimhub.heap import settle
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.testing.databases import postgres_database, sqlite_url

TENANT = "bench"
Advance = Callable[[float], None]


@contextmanager
def _fresh(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with postgres_database("cimhub_bench") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="cimhub-bench-") as directory:
            yield sqlite_url(Path(directory))


class BenchError(RuntimeError):
    """The benchmark saw something wrong (a message not stored, a reply not OK)."""


@dataclass
class Context:
    plan: Plan
    progress: Progress
    backends: tuple[str, ...]
    pin: bool = True
    _traffic: dict[tuple[int, int, datetime], Traffic] = field(default_factory=dict)
    _databases: list[Database] = field(default_factory=list)

    def traffic(self, size: int, population: int | None = None, start: datetime = START) -> Traffic:
        """The ingest traffic of one message size over ``population`` meters (the plan's
        by default), days from ``start``, generated once, the same for every backend."""
        plan = self.plan
        key = (size, population or plan.population, start)
        if key not in self._traffic:
            self._traffic[key] = traffic(size, key[1], plan.ingest_readings, plan.intervals, start)
        return self._traffic[key]

    @contextmanager
    def database(self, backend: str) -> Iterator[str]:
        """A fresh, empty database of ``backend``, dropped afterwards."""
        with _fresh(backend) as url:
            try:
                yield url
            finally:
                self.close()  # engines first: PostgreSQL drops no database in use

    def store(self, url: str) -> Database:
        """A migrated Database at ``url``, its PostgreSQL backends off the benchmark's core."""
        database = Database(url)
        self._databases.append(database)  # before upgrade(): close() disposes it if that fails
        if self.pin and database.dialect == "postgresql":
            event.listen(database.engine, "connect", pin_postgres_backend)
        database.upgrade()
        return database

    def install_meters(self, database: Database, population: int | None = None) -> None:
        """The traffic's meters installed at usage points, as in service (untimed)."""
        meters = range(1, (population or self.plan.population) + 1)
        install_meters(database, TENANT, meters, START)

    def analyse(self, url: str) -> None:
        """Table statistics, as autovacuum has them on a hub that has been running: call
        after a scenario's warm-up (a fresh database has none, and plans made blind scan
        a tenant's rows where they would probe an index)."""
        database = Database(url)
        if database.dialect != "postgresql":  # SQLite keeps none unless asked: nor does the hub
            database.dispose()
            return
        try:
            with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
        finally:
            database.dispose()

    def pipeline(self, url: str, **settings: object) -> Pipeline:
        """The pipeline every transport calls, wired as the hub wires it."""
        config = Settings(database_url=url, **settings)  # type: ignore[arg-type]
        pipeline = Pipeline(config, self.store(url), default_registry())
        settle()  # as `cimhub serve` and `cimhub worker` do once wired
        return pipeline

    def close(self) -> None:
        """Dispose of every engine (a PostgreSQL database cannot be dropped while in use)."""
        for database in self._databases:
            database.dispose()
        self._databases.clear()

    @contextmanager
    def task(self, description: str, total: float) -> Iterator[Advance]:
        """A progress bar line while it runs, then a printed line; yields a function
        advancing it. A finished bar leaves the live display: the display is redrawn ten
        times a second in this process, on the benchmark's core, and redrawing 80 finished
        bars in a terminal took 24 ms (a quarter of the core) by the grouped scenario."""
        task = self.progress.add_task(description, total=total)
        started = time.perf_counter()
        try:
            yield lambda n: self.progress.advance(task, n)
        finally:
            self.progress.remove_task(task)
            seconds = time.perf_counter() - started
            self.progress.console.print(f"{description}: {seconds:.1f} s", highlight=False)
