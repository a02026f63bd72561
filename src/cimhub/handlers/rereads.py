"""Re-reads of missed intervals (use case 6): the periodic sweep that asks head-ends for
exactly the periods VEE found missing, and lets VEE estimate what does not come.

Every open ``interval.missing`` finding whose gap ended before the tenant's
re-acquisition wait (VEE ``reacquisition_wait_minutes``, default 4 h) is a gap; its
meter's head-end gets one READ command for exactly (first missing interval's start, last
missing interval's end] naming the gap's reading types — a CIM GetMeterReadings (or an
EndDeviceControl with a scheduledInterval, per endpoint), or the vendor profile's period
fields over MQTT. A read that is over while the gap is still missing is
asked again after ``reread_retry_minutes`` (doubling), at most ``reread_max_attempts``
times, then given up: a gap is never asked for endlessly. Readings that arrive go
through ingest and VEE like any, close the gap (finding cleared, quality valid) and the
sweep closes its re-read.

VEE and the re-read: at ingest, VEE notes a gap younger than the wait and estimates an
older one (the rules stay pure and unchanged). A noted gap still missing
``reread_estimate_minutes`` after its first re-read request — or at once when its meter
has no head-end or it is given up — is estimated by a VEE re-run of the gap. A re-read
that arrives later still replaces the estimate (raw data is new data; estimates are a
validated-layer version). Gaps older than the meter's memory are not asked for.

Silent meters: VEE sees gaps only between readings the hub has, so a meter that stopped
reporting altogether leaves none. A meter in service with a head-end whose newest interval
reading is older than the wait (and younger than its memory) gets one read of (newest
reading, now rounded down to its interval], with the same attempts, retries and giving up
(a row of kind ``silent`` per newest reading; its period grows to now at each attempt).
A meter with no readings at all is not asked: the communication-failure exception covers
it. Nothing is estimated for a silent meter.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cimhub.domain.command import FINAL, Command, CommandKind, State
from cimhub.domain.meter_read import (
    DAY,
    Move,
    Period,
    RereadKind,
    RereadPolicy,
    RereadState,
    next_move,
    silent_period,
)
from cimhub.handlers.commands import HUB, Commands
from cimhub.handlers.meter_readings import vee_service
from cimhub.mappings.timestamp import to_text
from cimhub.settings import Settings
from cimhub.store.daily_aggregates import refresh
from cimhub.store.rereads import Gap, RereadRepository, RereadRow
from cimhub.store.unit_of_work import UnitOfWork

#: Reads one sweep asks of one tenant's head-ends at most (the rest wait for the next).
MAX_ASKS = 1000
#: Called after VEE re-ran a tenant's gaps: (unit of work, tenant id, tenant code) → how
#: many subscriptions get the validated values it changed (the bus's outbox).
Announce = Callable[[UnitOfWork, int, str], int]
_OVER = FINAL | {State.TIMED_OUT}
GAP, SILENT = RereadKind.GAP, RereadKind.SILENT


@dataclass(slots=True)
class SweepReport:
    gaps: int = 0
    silent: int = 0  #: meters in service that sent nothing since a reading past the wait
    asked: int = 0
    closed: int = 0
    given_up: int = 0
    estimated: int = 0


def sweep(
    uow: UnitOfWork, settings: Settings, *, at: int | None = None, announce: Announce | None = None
) -> dict[str, dict[str, int]]:
    """Every tenant's gaps (a hub-wide unit of work); what was done, per tenant code."""
    at = int(time.time()) if at is None else at
    return {
        t.code: asdict(Sweep(uow, settings, t.id, t.code, at).run(announce))
        for t in uow.tenants.all()
    }


class Sweep:
    """One tenant's sweep at one moment."""

    def __init__(self, uow: UnitOfWork, settings: Settings, tenant_id: int, tenant: str,
                 at: int) -> None:  # fmt: skip
        self.uow, self.settings, self.at = uow, settings, at
        self.tenant_id, self.tenant = tenant_id, tenant
        self.vee = vee_service(settings).for_tenant(uow, tenant_id, tenant)
        self.policy = RereadPolicy(
            settings.reread_max_attempts,
            int(settings.reread_retry_minutes * 60),
            int(settings.reread_estimate_minutes * 60),
        )
        self.repo = RereadRepository(uow)
        self.commands = Commands(uow)
        self.report = SweepReport()

    def run(self, announce: Announce | None) -> SweepReport:
        wait = self.vee.config.params(self.tenant).reacquisition_wait_minutes * 60
        self._gaps(wait)
        self._silent(wait)
        if self.report.estimated and announce is not None:
            announce(self.uow, self.tenant_id, self.tenant)
        return self.report

    def _gaps(self, wait: int) -> None:
        """Every gap ended before the wait: asked, waited for, given up or estimated."""
        found = self.repo.gaps(self.tenant_id, self.at - wait)
        gaps = {(g.meter_id, g.period): g for g in found}
        types: dict[tuple[int, Period], set[str]] = defaultdict(set)
        for g in found:  # one finding per reading type missing: one read names them all
            types[(g.meter_id, g.period)].add(g.reading_type)
        rows = {(r.meter_id, r.period): r for r in self.repo.rows(self.tenant_id, kind=GAP)}
        self.report.gaps = len(gaps)
        for key, row in rows.items():
            if row.state == RereadState.OPEN and key not in gaps:
                self.repo.move(row, RereadState.CLOSED, "the gap is no longer missing")
                self.report.closed += 1
        for key, gap in sorted(gaps.items(), key=lambda item: item[0][0]):  # VEE locks in order
            row = rows.get(key) or self.repo.add(self.tenant_id, gap.meter_id, gap.period, "")
            self._step(row, gap, sorted(types[key]))
            if self._estimate_due(row):
                self._estimate(row, gap)

    def _step(self, row: RereadRow, gap: Gap, reading_types: list[str]) -> None:
        """Ask, wait or give up, for a gap still missing."""
        if row.state == RereadState.CLOSED:
            self.repo.move(row, RereadState.OPEN, "missing again")
        if row.state != RereadState.OPEN:
            return
        if gap.hes is None:
            return self._give_up(row, "the meter belongs to no head-end")
        if gap.period.start < self.at - self.settings.meter_memory_days * DAY:
            return self._give_up(row, "older than the meter's load profile reaches back")
        what = f"re-read of missed intervals {_span(gap.period)}"
        self._advance(row, lambda: self._ask(row, gap.period, reading_types, what))

    def _silent(self, wait: int) -> None:
        """Meters in service with a head-end that sent nothing since a reading older than
        the wait (and younger than their memory): one read each of everything since."""
        memory = self.settings.meter_memory_days * DAY
        found = {
            s.meter_id: s
            for s in self.repo.silent(self.tenant_id, self.at - wait, self.at - memory)
        }
        self.report.silent = len(found)
        current: dict[int, RereadRow] = {}
        for row in self.repo.rows(self.tenant_id, kind=SILENT):
            meter = found.get(row.meter_id)
            if meter is not None and meter.newest == row.period_start:
                current[row.meter_id] = row
            elif row.state == RereadState.OPEN:
                self.repo.move(row, RereadState.CLOSED, "the meter is no longer silent")
                self.report.closed += 1
        for meter in found.values():
            period = silent_period(meter.newest, meter.step, self.at, wait=wait, memory=memory)
            if period is None:
                continue
            row = current.get(meter.meter_id)
            if row is None:
                row = self.repo.add(self.tenant_id, meter.meter_id, period, "", SILENT)
            elif row.state == RereadState.CLOSED:
                self.repo.move(row, RereadState.OPEN, "silent again")
            if row.state == RereadState.OPEN:
                self._advance(row, lambda r=row, p=period: self._ask_silent(r, p))

    def _ask_silent(self, row: RereadRow, period: Period) -> None:
        """Everything since the newest reading, up to now (the period grows each attempt)."""
        row.period_end = period.end
        since = to_text(period.start)
        self._ask(row, period, [], f"read of a meter silent since {since}: {_span(period)}")

    def _advance(self, row: RereadRow, ask: Callable[[], None]) -> None:
        """An open re-read's next move: ask (again), wait for its read, or give up."""
        last = self.commands.repo.by_id(row.command_id) if row.command_id else None
        move = next_move(
            self.policy,
            attempts=row.attempts,
            asked_at=row.asked_at or 0,
            answered=last is None or last.command.state in _OVER,
            now=self.at,
        )
        if move is Move.GIVE_UP:
            state = f"; the last read {last.command.state}" if last else ""
            self._give_up(row, f"{row.attempts} read(s) did not bring the intervals{state}")
        elif move is Move.ASK and self.report.asked < MAX_ASKS:
            ask()

    def _ask(self, row: RereadRow, period: Period, reading_types: list[str], what: str) -> None:
        meter = self.uow.meters.describe(self.tenant_id, [row.meter_id])[row.meter_id]
        command = Command(
            mrid=f"reread-{uuid.uuid4()}",
            kind=CommandKind.READ,
            meter=meter,
            requester=HUB,
            source="missed-interval sweep",
            reason=f"{what} (attempt {row.attempts + 1} of {self.policy.max_attempts})",
            period=period,
            reading_types=tuple(reading_types),
        )
        command_id = self.commands.create(self.tenant_id, row.meter_id, command, None)
        self.repo.asked(row, command_id, self.at)
        row.reason = command.reason
        self.report.asked += 1

    def _give_up(self, row: RereadRow, reason: str) -> None:
        self.repo.move(row, RereadState.GIVEN_UP, reason)
        self.report.given_up += 1

    def _estimate_due(self, row: RereadRow) -> bool:
        if row.estimated_at is not None or row.state == RereadState.CLOSED:
            return False
        if row.state == RereadState.GIVEN_UP:
            return True
        first = row.first_asked_at
        return first is not None and self.at >= first + self.policy.estimate_after

    def _estimate(self, row: RereadRow, gap: Gap) -> None:
        """VEE re-runs the gap with its neighbours: past the wait, it is estimated."""
        start, end = gap.period.start - gap.step, gap.period.end + gap.step
        run = self.vee.rerun(
            self.uow, self.tenant_id, self.tenant, [gap.meter_id], start, end, now=self.at
        )
        if run.stored.changed or run.stored.inserted:  # billing sees the estimates
            refresh(self.uow, self.tenant_id, [(gap.meter_id, start, end)])
        row.estimated_at = self.at
        self.report.estimated += 1


def _span(period: Period) -> str:
    return f"{to_text(period.start)} – {to_text(period.end)}"
