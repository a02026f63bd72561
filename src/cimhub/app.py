"""The composition root: settings in, a wired hub (store, registry, pipeline, bus, web app) out."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from cimhub.bus.pipeline import Pipeline
from cimhub.bus.runtime import Bus
from cimhub.endpoints.http import create_app
from cimhub.handlers.registry import Registry, default_registry
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub")


@dataclass
class Hub:
    settings: Settings
    database: Database
    registry: Registry
    pipeline: Pipeline
    bus: Bus | None = None
    scheduler: Any = None  # apscheduler's BackgroundScheduler once housekeeping runs
    commands: Any = None  # the HES dispatcher (and MQTT adapter) once commands run

    @classmethod
    def build(cls, settings: Settings, *, upgrade: bool = True, serve: bool = True) -> Hub:
        """Wire a hub; ``serve`` starts its bus in the serving role (False for `cimhub worker`)."""
        database = Database(settings.database_url)
        try:
            if upgrade:
                database.upgrade()
            registry = default_registry()
            pipeline = Pipeline(settings, database, registry)
            bus = Bus(settings, database, registry, pipeline)
        except BaseException:
            database.dispose()  # a hub never built leaves no connection open
            raise
        hub = cls(settings, database, registry, pipeline, bus)
        if serve:
            try:
                bus.start_serving()
            except BaseException:
                hub.close()  # threads it started stop, then the pool goes
                raise
        return hub

    def web_app(self) -> FastAPI:
        from cimhub.endpoints.rest import PREFIX, approval_codes, commands, exceptions, vee

        app = create_app(self.settings, self.pipeline, self.database, self.bus)
        app.include_router(commands.router(self.database, self.settings), prefix=PREFIX)
        app.include_router(approval_codes.router(self.database, self.settings), prefix=PREFIX)
        vee.mount(app, self.database, self.settings, PREFIX)
        app.include_router(exceptions.router(self.database, self.settings), prefix=PREFIX)
        return app

    def prune_raw_messages(self) -> int:
        """Drop raw message bytes older than the retention; the log rows themselves stay."""
        cutoff = int(time.time()) - self.settings.raw_retention_days * 86_400
        with self.database.unit_of_work(hub=True) as uow:
            pruned = uow.messages.prune_raw(cutoff)
        log.info("housekeeping: dropped the raw bytes of %d logged messages", pruned)
        return pruned

    def start_housekeeping(self) -> None:
        """The serving hub's daily jobs, in-process (apscheduler); the first run is now."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(daemon=True)
        self.scheduler.add_job(
            self.prune_raw_messages, "interval", days=1, next_run_time=datetime.now(UTC)
        )
        sweep = max(1.0, min(60.0, self.settings.command_timeout_seconds / 4))
        self.scheduler.add_job(self.time_out_commands, "interval", seconds=sweep)
        self.scheduler.add_job(self.sweep_exceptions, "interval", minutes=15)
        self.scheduler.add_job(
            self.sweep_rereads, "interval", minutes=self.settings.reread_sweep_minutes
        )
        self.scheduler.add_job(
            self.feed_prepaid, "interval", hours=1, next_run_time=datetime.now(UTC)
        )
        self.scheduler.add_job(
            self.assess_non_metered, "interval", days=1, next_run_time=datetime.now(UTC)
        )
        self.scheduler.start()
        self.start_commands()

    def start_commands(self) -> None:
        """Hand commands to their head-ends (and, with CIMHUB_MQTT_URL, run vendor adapters)."""
        from cimhub.adapters.runtime import CommandRuntime

        if self.commands is None:
            self.commands = CommandRuntime.start(self.settings, self.database, self.pipeline)

    def time_out_commands(self) -> list[str]:
        """Commands sent but not acknowledged in time become timed_out (and are announced)."""
        from cimhub.handlers.commands import time_out

        with self.database.unit_of_work(hub=True) as uow:
            expired = time_out(
                uow,
                self.settings.command_timeout_seconds,
                outcome_timeout_seconds=self.settings.command_outcome_timeout_seconds,
            )
        if expired:
            log.warning("commands timed out: %s", ", ".join(expired))
        return expired

    def sweep_exceptions(self) -> dict[str, int]:
        """Exceptions from new VEE findings and silent meters (every 15 minutes)."""
        from cimhub.handlers.exceptions import sweep

        with self.database.unit_of_work(hub=True) as uow:
            return sweep(uow, self.settings)

    def sweep_rereads(self) -> dict[str, dict[str, int]]:
        """Missed intervals: re-read requests and estimates (every reread_sweep_minutes)."""
        return sweep_rereads(self.database, self.settings)

    def feed_prepaid(self) -> int:
        """Yesterday's consumption to prepaid subscribers, per tenant from its feed hour
        (hourly: a day already sent is skipped, a day edited since is sent again)."""
        from cimhub.handlers.prepaid_feed import feed_due

        with self.database.unit_of_work(hub=True) as uow:
            results = feed_due(uow, datetime.now(UTC))
        sent = sum(n for r in results for by_verb in r.sent.values() for n in by_verb.values())
        if sent:
            log.info("housekeeping: prepaid feed sent %d usage point days", sent)
        return sent

    def assess_non_metered(self, at: int | None = None) -> dict[str, dict[str, Any]]:
        """Assessed consumption of points without a working meter, for the last complete
        local days of every tenant (daily)."""
        from cimhub.bus.outbox import announce_validated
        from cimhub.handlers.assessments import assess_recent

        run = f"non-metered-{uuid.uuid4()}"  # the CorrelationID of the values announced

        def announce(uow: UnitOfWork, tenant_id: int, tenant: str) -> int:
            return announce_validated(uow, tenant_id, tenant, run)

        done = assess_recent(self.database, self.settings, at, announce)
        days = sum(d["inserted"] + d["changed"] for d in done.values())
        if days:
            log.info("housekeeping: %d assessed day(s) of points without a meter", days)
        return done

    def close(self) -> None:
        try:
            if self.commands is not None:
                self.commands.stop()
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
            if self.bus is not None:
                self.bus.stop()
        finally:
            self.database.dispose()  # even when a thread failed to stop


def sweep_rereads(
    database: Database, settings: Settings, at: int | None = None
) -> dict[str, dict[str, int]]:
    """Missed intervals older than the re-acquisition wait: re-read requests to their
    head-ends, and estimates for what does not come; the estimates go to subscribers."""
    from cimhub.bus.outbox import announce_validated
    from cimhub.handlers.rereads import sweep

    run = f"reread-sweep-{uuid.uuid4()}"  # the CorrelationID of the estimates announced

    def announce(uow: UnitOfWork, tenant_id: int, tenant: str) -> int:
        return announce_validated(uow, tenant_id, tenant, run)

    with database.unit_of_work(hub=True) as uow:
        done = sweep(uow, settings, at=at, announce=announce)
    asked = sum(r["asked"] for r in done.values())
    if asked:
        log.info("housekeeping: %d missed-interval re-read(s) asked", asked)
    return done
