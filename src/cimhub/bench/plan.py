"""How much a run measures (default, --quick, --scale) and which scenarios it runs."""

from __future__ import annotations

from dataclasses import dataclass

from cimhub.bench.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Plan:
    """The sizes and amounts of one run; ``--quick`` shrinks them to seconds."""

    quick: bool = False
    scale: float = 1.0
    intervals: int = 96

    @property
    def sizes(self) -> tuple[int, ...]:
        """Meters per message (each with ``intervals`` readings)."""
        return (1, 100) if self.quick else (1, 100, 1000)

    @property
    def population(self) -> int:
        """Meters the simulated HES reads: one message of the largest size covers them."""
        return max(self.sizes)

    @property
    def ingest_readings(self) -> int:
        """Timed readings per (backend, size): whole messages of the largest size."""
        if self.quick:
            return self.population * self.intervals
        per_message = self.population * self.intervals
        return per_message * max(1, round(3 * self.scale))

    @property
    def ingest_seconds(self) -> float:
        """Time budget per (backend, size), shared by its repeats: a slow path stops early,
        on whole messages."""
        return 1.0 if self.quick else 20.0 * self.scale

    @property
    def repeats(self) -> int:
        """Runs of each ingest case, on fresh databases; the median is reported (see
        ``cimhub.bench.repeats``). Two in a quick run, so that CI goes through it."""
        return 2 if self.quick else 3

    @property
    def naive_seconds(self) -> float:
        """The naive reference's time budget per (backend, size)."""
        return 0.5 if self.quick else 3.0

    @property
    def naive_max_size(self) -> int:
        """Larger messages would take the naive reference far more than its budget."""
        return 100

    @property
    def query_rows(self) -> int:
        """Interval readings stored before the query scenario times anything."""
        return 60_000 if self.quick else int(10_000_000 * self.scale)

    @property
    def query_days(self) -> int:
        """Days of data stored: January and February of the query year."""
        return 59

    @property
    def groups(self) -> tuple[int, ...]:
        """Messages a batch in the grouped-ingest scenario (a worker takes up to
        ``worker_batch_messages``, 64 by default, of what arrived)."""
        return (16,) if self.quick else (16, 64)

    @property
    def query_repeats(self) -> int:
        return 20 if self.quick else 300


def default_scenarios() -> list[Scenario]:
    """Every scenario, built or not, in the order a run measures them."""
    from cimhub.bench import (
        baselines,
        billing,
        bus,
        grouped,
        ingest,
        late,
        local_days,
        memory,
        queries,
    )

    pg_and_sqlite = ("sqlite", "postgresql")
    return [
        Scenario(
            "ingest",
            "pipeline (in-process)",
            "CIM XML → parse + validate → map → VEE (when built) → store → reply through "
            "Pipeline.process, with idempotency and the message log on",
            ingest.run,
            pg_and_sqlite,
        ),
        Scenario(
            "ingest with VEE off",
            "VEE",
            "the ingest scenario with VEE switched off (what VEE costs)",
            ingest.run_vee_off if ingest.vee_built() else None,
            pg_and_sqlite,
        ),
        Scenario(
            "baseline: parse + validate",
            "lxml",
            "the same bytes through the hardened lxml parser and the compiled XSDs alone",
            baselines.parse_validate,
        ),
        Scenario(
            "baseline: store alone",
            "store",
            "the same rows, one transaction per message: PostgreSQL binary COPY into "
            "interval_reading; SQLite executemany into it",
            baselines.store_alone,
            pg_and_sqlite,
        ),
        Scenario(
            "baseline: naive integrator",
            "reference",
            "xmlschema decoding + SQLAlchemy ORM inserts of the same messages, a few "
            "seconds' worth",
            baselines.naive,
            pg_and_sqlite,
        ),
        Scenario(
            "ingest grouped",
            "pipeline (in-process)",
            "1×96 messages N to a batch through Pipeline.handle_many, as a worker handles "
            "what arrived: one transaction, one log insert, one COPY, one VEE run a batch, "
            "each message its own reply",
            grouped.run,
            pg_and_sqlite,
        ),
        Scenario(
            "ingest of local days",
            "pipeline (in-process)",
            "the ingest scenario's larger messages with each day from midnight in India, as "
            "Indian head-ends push them (the daily aggregates read nothing back)",
            local_days.run,
            ("postgresql",),
        ),
        Scenario(
            "late readings",
            "VEE",
            "a day that arrives after VEE estimated it as a gap: each estimate replaced by a "
            "new version holding the measured value, beside an on-time day of the same meters",
            late.run if ingest.vee_built() else None,
            pg_and_sqlite,
        ),
        Scenario(
            "queries",
            "pipeline + store",
            "GetMeterReadings for one meter-month and for 100 meters-day through "
            "Pipeline.process, over rows bulk-loaded with COPY",
            queries.run,
            pg_and_sqlite,
        ),
        Scenario(
            "queries on the validated layer",
            "VEE",
            "the same queries answered from VEE's validated layer (the default when VEE is "
            "on), over as many validated readings bulk-loaded with COPY",
            queries.run_validated if ingest.vee_built() else None,
            pg_and_sqlite,
        ),
        Scenario(
            "memory",
            "pipeline (in-process)",
            "peak memory of one message per size, in a fresh subprocess",
            memory.run,
        ),
        Scenario(
            "ingest over RabbitMQ, 1 worker",
            "bus: RabbitMQ",
            "the same traffic published to cimhub.inbound, one `cimhub worker` process "
            "handling it (grouped transactions), timed from first publish to last reply",
            bus.run_one_worker,
            ("postgresql",),
        ),
        Scenario(
            "ingest over RabbitMQ, 2 workers",
            "bus: RabbitMQ",
            "the same with two competing workers: scaling and what limits it",
            bus.run_two_workers,
            ("postgresql",),
        ),
        Scenario(
            "billing determinants",
            "billing",
            "the monthly run (determinants, readiness, the subscriber's outbox messages) for "
            "N usage-point-months of 15-minute data, over daily aggregates",
            billing.run,
            pg_and_sqlite,
        ),
    ]
