"""The HES dispatcher: relays the command outbox to head-ends, after commit, with retries.

Each due ``hes_dispatch`` row is read in one transaction, sent outside any transaction
(CIM over SOAP/HTTP, or vendor JSON over MQTT), and its outcome recorded in another: the
head-end's OK acknowledges the command, its FAILED (or a SOAP Fault) fails it with the
reason, and a head-end that cannot be reached leaves the command ``sent`` and the row due
again after an exponential back-off — until ``hes_max_attempts``, when the command fails
with the reason. A READ goes to a CIM head-end as a GetMeterReadings (``hes_read``); the
readings its answer carries go through the pipeline, after the acknowledgement.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cimhub.adapters import hes_read
from cimhub.adapters.hes_client import HesAnswer, HesUnavailableError, read_answer, send_cim
from cimhub.bus.events import wrap
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.domain.command import Command, State
from cimhub.errors import CimHubError
from cimhub.handlers.commands import Commands
from cimhub.mappings.end_device_controls import write_end_device_controls
from cimhub.message.reply import Result
from cimhub.message.verb import Noun, Verb
from cimhub.settings import Settings
from cimhub.store.commands import Dispatch, HesEndpoint
from cimhub.store.database import Database

log = logging.getLogger("cimhub.hes")
#: Sends a command to an MQTT head-end: (vendor profile, tenant code, command, head-end).
MqttSender = Callable[[str, str, Command, str | None], None]


@dataclass(frozen=True, slots=True)
class Job:
    dispatch: Dispatch
    command: Command
    tenant: str
    endpoint: HesEndpoint | None
    hes: str | None


class HesDispatcher:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        mqtt: MqttSender | None = None,
        pipeline: Pipeline | None = None,  # ingests what a head-end's read answer brings
    ) -> None:
        self.database = database
        self.settings = settings
        self.mqtt = mqtt
        self.pipeline = pipeline
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float = 0.5) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="hes-dispatcher", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.dispatch_once()
            except CimHubError as exc:
                log.warning("HES dispatch paused: %s", exc.reason)
            except Exception:  # a bug must not end the thread
                log.exception("HES dispatch failed")
            self._wake.wait(interval)
            self._wake.clear()

    def dispatch_once(self) -> int:
        """Send every due command once; how many were tried."""
        jobs = self._due()
        for job in jobs:
            self._send(job)
        return len(jobs)

    def _due(self) -> list[Job]:
        with self.database.unit_of_work(hub=True) as uow:
            commands = Commands(uow)
            jobs = []
            lease = self.settings.hes_timeout_seconds * 3 + 5
            for dispatch in commands.repo.claim(lease):
                stored = commands.repo.by_id(dispatch.command_id)
                if stored is None:
                    commands.repo.finish(dispatch.id, "command gone")
                    continue
                endpoint = commands.repo.endpoint(stored.tenant_id, stored.hes or "")
                tenant = uow.tenants.code_of(stored.tenant_id)
                jobs.append(Job(dispatch, stored.command, tenant, endpoint, stored.hes))
            return jobs

    def _send(self, job: Job) -> None:
        endpoint = job.endpoint
        if endpoint is None:
            self._fail(job, f"no endpoint is configured for head-end {job.hes!r}")
            return
        reads = hes_read.asks_get(endpoint, job.command)
        try:
            if endpoint.kind == "mqtt":
                if self.mqtt is None:
                    raise HesUnavailableError("no MQTT connection (set CIMHUB_MQTT_URL)")
                self.mqtt(endpoint.vendor or endpoint.name, job.tenant, job.command, job.hes)
                answer = HesAnswer("OK", "0.3", "published to the vendor's command topic")
            else:
                body = hes_read.request(job.command, job.dispatch.id) if reads else message(job)
                answer = send_cim(
                    endpoint.kind, endpoint.url, body, self.settings.hes_timeout_seconds
                )
        except HesUnavailableError as exc:
            self._retry(job, exc.reason)
            return
        except CimHubError as exc:  # the command cannot be put to this head-end at all
            self._fail(job, exc.reason)
            return
        if reads:
            self._answered_read(job, endpoint, answer)
        else:
            self._record(job, answer)

    def _answered_read(self, job: Job, endpoint: HesEndpoint, answer: HesAnswer) -> None:
        """A GetMeterReadings answered: recorded, then the readings it carries ingested."""
        self._record(job, hes_read.as_received(answer))
        readings = hes_read.readings_of(answer)
        if answer.result == "FAILED" or readings is None:
            return
        if self.pipeline is None:
            self._close_read(job, "no pipeline here ingests the head-end's readings")
            return
        if readings.find("{*}MeterReading") is None:  # an answer without a single reading
            self._close_read(job, None)
            return
        raw = hes_read.created(readings, job.command, job.dispatch.id, job.hes or endpoint.name)
        ingested = self.pipeline.process(
            Inbound(raw, job.tenant, f"hes-{endpoint.kind}", audit_actor=job.hes)
        )
        if ingested.technical:  # the hub failed, not the head-end: the read stays
            # acknowledged until it times out, and a re-read asks again
            log.warning("read %s: its readings not stored: %s", job.command.mrid, ingested.code)
            return
        if ingested.result is Result.FAILED:
            refused = read_answer(ingested.body)
            self._close_read(job, f"the head-end's readings were refused: {ingested.code} "
                                  f"{refused.reason}".strip())  # fmt: skip
        elif ingested.code != "0.3":  # 0.3: still being stored; they close the read then
            self._close_read(job, None)

    def _close_read(self, job: Job, reason: str | None) -> None:
        """Fail a READ its answer did not execute (``reason`` None: nothing reached the
        period's end)."""
        with self.database.unit_of_work(hub=True) as uow:
            commands = Commands(uow)
            stored = commands.repo.by_id(job.dispatch.command_id, lock=True)
            if stored is None or stored.command.state not in (State.SENT, State.ACKNOWLEDGED):
                return
            why = reason or hes_read.short_of(stored.command)
            commands.move(stored, State.FAILED, job.hes or "head-end", why)

    def _record(self, job: Job, answer: HesAnswer) -> None:
        with self.database.unit_of_work(hub=True) as uow:
            commands = Commands(uow)
            commands.repo.finish(job.dispatch.id)
            stored = commands.repo.by_id(job.dispatch.command_id, lock=True)
            if stored is None or stored.command.state is not State.SENT:
                return  # timed out or answered meanwhile: the head-end's reply adds nothing
            actor = job.hes or "head-end"
            if answer.result == "FAILED":
                commands.move(stored, State.FAILED, actor, answer.reason or answer.code)
            elif answer.result in ("OK", "PARTIAL") and answer.code != "0.3":
                commands.move(stored, State.ACKNOWLEDGED, actor, answer.reason or "accepted")

    def _retry(self, job: Job, reason: str) -> None:
        attempts = job.dispatch.attempts + 1
        if attempts >= self.settings.hes_max_attempts:
            self._fail(job, f"head-end {job.hes!r} unreachable after {attempts} attempts: {reason}")
            return
        delay = min(
            self.settings.hes_backoff_seconds * 2 ** (attempts - 1),
            self.settings.hes_backoff_max_seconds,
        )
        log.info("head-end %s: %s; attempt %d in %.1fs", job.hes, reason, attempts + 1, delay)
        with self.database.unit_of_work(hub=True) as uow:
            Commands(uow).repo.retry_later(job.dispatch.id, attempts, delay, reason)

    def _fail(self, job: Job, reason: str) -> None:
        log.warning("command %s failed: %s", job.command.mrid, reason)
        with self.database.unit_of_work(hub=True) as uow:
            commands = Commands(uow)
            commands.repo.finish(job.dispatch.id, reason)
            stored = commands.repo.by_id(job.dispatch.command_id, lock=True)
            if stored is not None and stored.command.state is State.SENT:
                commands.move(stored, State.FAILED, "cimhub", reason)


def message(job: Job) -> bytes:
    """The CreateEndDeviceControls the head-end receives (MessageID stable per dispatch)."""
    payload = write_end_device_controls([job.command], with_status=False)
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-command-{job.dispatch.id}"))
    correlation = job.command.correlation_id or job.command.mrid
    return wrap(Noun.END_DEVICE_CONTROLS.value, Verb.CREATE, payload, message_id, correlation)
