"""Master-data operations that span repositories: install, remove, replace, retire.

Each runs inside the caller's unit of work and checks every rule before it writes, so a
refused batch leaves nothing behind (the transaction rolls back on the raised error).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Row

from cimhub.domain.installation import Installation, LinkSpec, Site, check_install
from cimhub.domain.lifecycle import BEFORE_FIELD, IN_FIELD, Stage, Transition, check_transition
from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.domain.rule import InUseError
from cimhub.errors import DomainRuleError, UnknownObjectError
from cimhub.vee.batch import Batch
from cimhub.vee.finding import SeriesKey

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a change came from: for the lifecycle history and the readings it stores."""

    source: str
    message_log_id: int | None
    received_at: int


@dataclass(frozen=True, slots=True)
class Linked:
    """What install / remove did: how many links they made or closed, and the register
    reads they stored (a replacement's final and initial reads) as VEE batches with their
    reading type ids, for the caller to validate as it validates any register read."""

    count: int
    reads: list[Batch]
    type_ids: dict[str, int]


@dataclass
class _Batch:
    """What a batch of links will write, collected while every rule is checked."""

    new: list[Installation]
    reasons: list[str]
    closes: list[tuple[int, int, str]]
    moves: list[tuple[int, Transition]]
    reads: list[tuple[int, str, str, int, float]]  # meter id, mRID, reading type, ts, value


class MasterData:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def install(self, tenant_id: int, links: Sequence[LinkSpec], origin: Provenance) -> Linked:
        """Put meters at sites (replacing where asked); counts the links that were new."""
        if not links:
            return Linked(0, [], {})
        for link in links:
            if not link.site_key:
                raise DomainRuleError(f"link of meter {link.meter!r} names no usage point or node")
        meters = self._uow.meter_assets.require(
            tenant_id, [k for ln in links for k in (ln.meter, ln.replaced_meter) if k]
        )
        sites = self._sites(tenant_id, links)
        meter_hist, site_hist = self._histories(tenant_id, meters.values(), sites.values())
        present = {h.meter_id for hs in site_hist.values() for h in hs if h.active}
        stages = {
            row.id: Stage(row.lifecycle_stage)
            for row in [
                *meters.values(),
                *self._uow.meter_assets.rows(tenant_id, present, narrow=True).values(),
            ]
        }
        batch = _Batch([], [], [], [], [])
        for link in links:
            meter, site = meters[link.meter], sites[link.site_key]
            if any(
                h.active and h.site == site and h.role is link.role for h in meter_hist[meter.id]
            ):
                continue  # already there: re-sent links change nothing
            if link.replaces:
                self._replace_out(link, site, site_hist, meter_hist, stages, batch, meters)
            new = Installation(
                meter.id, site, link.role, link.at, None, None, meter.mrid, link.site_key
            )
            check_install(new, meter_hist[meter.id], site_hist[site])
            self._move_in(meter, link, stages, batch)
            meter_hist[meter.id].append(new)
            site_hist[site].append(new)
            batch.new.append(new)
            batch.reasons.append(link.reason)
            if link.initial_read is not None:
                batch.reads.append(
                    (meter.id, meter.mrid, link.reading_type, link.at, link.initial_read)
                )
        reads, type_ids = self._write(tenant_id, batch, links[0].by, origin)
        return Linked(len(batch.new), reads, type_ids)

    def remove(self, tenant_id: int, links: Sequence[LinkSpec], origin: Provenance) -> Linked:
        """End each meter's active installation (at the named site, if any) at ``at``."""
        meters = self._uow.meter_assets.require(tenant_id, [ln.meter for ln in links])
        active = self._uow.installations.history(
            tenant_id, meter_ids=[r.id for r in meters.values()], active_only=True
        )
        by_meter = {i.meter_id: i for i in active}
        stages = {row.id: Stage(row.lifecycle_stage) for row in meters.values()}
        sites = self._sites(tenant_id, [ln for ln in links if ln.site_key])
        batch = _Batch([], [], [], [], [])
        for link in links:
            meter = meters[link.meter]
            current = by_meter.get(meter.id)
            if current is None or (link.site_key and current.site != sites[link.site_key]):
                where = f" at {link.site_key!r}" if link.site_key else ""
                raise UnknownObjectError(  # no open link to close, as cancel_links answers
                    f"no open link: meter {link.meter!r} is not installed{where}",
                    object_id=link.meter,
                )
            self._take_out(current, link, stages, batch)
            del by_meter[meter.id]
        reads, type_ids = self._write(tenant_id, batch, links[0].by if links else "", origin)
        return Linked(len(batch.closes), reads, type_ids)

    def cancel_links(
        self, tenant_id: int, links: Sequence[LinkSpec], reason: str, origin: Provenance
    ) -> int:
        """Void links entered in error (the latest one of each meter at the named site).

        A meter the voided link had moved into ``installed`` goes back to the stage it came
        from: recorded as a correction, outside the transition table (it never moved)."""
        meters = self._uow.meter_assets.require(tenant_id, [ln.meter for ln in links])
        history = self._uow.installations.history(
            tenant_id, meter_ids=[r.id for r in meters.values()]
        )
        sites = self._sites(tenant_id, [ln for ln in links if ln.site_key])
        voided: list[Installation] = []
        for link in links:
            mine = [
                i
                for i in history
                if i.meter_id == meters[link.meter].id
                and (not link.site_key or i.site == sites[link.site_key])
            ]
            if not mine:
                raise UnknownObjectError(
                    f"no link of meter {link.meter!r} to {link.site_key!r}", object_id=link.meter
                )
            voided.append(mine[-1])
        self._uow.installations.cancel([i.id for i in voided if i.id is not None], reason)
        last = self._uow.lifecycle.last(tenant_id, [i.meter_id for i in voided if i.active])
        corrections = [
            (
                i.meter_id,
                Transition(
                    Stage.INSTALLED,
                    Stage(move["from_stage"]),
                    i.start,
                    links[0].by,
                    f"correction: {reason}",
                ),
            )
            for i in voided
            if (move := last.get(i.meter_id))
            and i.active
            and move["from_stage"]
            and move["to_stage"] == Stage.INSTALLED.value
            and move["at"] == i.start
        ]
        self._uow.lifecycle.record(tenant_id, corrections, source=origin.source)
        return len(voided)

    def retire_meters(
        self,
        tenant_id: int,
        keys: Sequence[str],
        status: str,
        *,
        at: int,
        by: str,
        reason: str,
        origin: Provenance,
    ) -> int:
        """close → decommissioned; cancel / delete → the record is voided. Refused (3.8)
        while the meter is installed (close) or has any installation history (cancel)."""
        meters = self._uow.meter_assets.require(tenant_id, keys)
        ids = [row.id for row in meters.values()]
        history = self._uow.installations.history(tenant_id, meter_ids=ids)
        for key, row in meters.items():
            mine = [i for i in history if i.meter_id == row.id]
            if status == "closed" and any(i.active for i in mine):
                raise InUseError(f"meter {key!r} is still installed", object_id=key)
            if status != "closed" and mine:
                raise InUseError(f"meter {key!r} has an installation history", object_id=key)
        if status == "closed":
            self._uow.lifecycle.move(
                tenant_id,
                [(row.id, key, Stage(row.lifecycle_stage)) for key, row in meters.items()],
                Stage.DECOMMISSIONED,
                at=at,
                by=by,
                reason=reason,
                source=origin.source,
            )
        else:
            self._uow.meter_assets.set_status(ids, status)
        return len(ids)

    def retire_usage_points(self, tenant_id: int, keys: Sequence[str], status: str) -> int:
        """close → status closed (refused while a meter is installed); cancel / delete →
        the record is voided (refused once any meter was ever installed)."""
        ups = self._uow.usage_points.require(tenant_id, keys)
        ids = [row.id for row in ups.values()]
        history = self._uow.installations.history(tenant_id, usage_point_ids=ids)
        for key, row in ups.items():
            mine = [i for i in history if i.site.usage_point_id == row.id]
            if status == "closed" and any(i.active for i in mine):
                raise InUseError(f"usage point {key!r} still has a meter", object_id=key)
            if status != "closed" and mine:
                raise InUseError(f"usage point {key!r} has an installation history", object_id=key)
        if status == "closed":
            self._uow.usage_points.set_status(ids, status="closed")
        else:
            self._uow.usage_points.set_status(ids, record_status=status)
        return len(ids)

    # ---- steps -----------------------------------------------------------------------

    def _sites(self, tenant_id: int, links: Sequence[LinkSpec]) -> dict[str, Site]:
        ups = self._uow.usage_points.require(
            tenant_id, sorted({ln.usage_point for ln in links if ln.usage_point})
        )
        nodes = self._uow.hierarchy.require(tenant_id, sorted({ln.node for ln in links if ln.node}))
        return {k: Site(usage_point_id=r.id) for k, r in ups.items()} | {
            k: Site(node_id=node_id) for k, (node_id, _) in nodes.items()
        }

    def _histories(
        self, tenant_id: int, meters: Any, sites: Any
    ) -> tuple[dict[int, list[Installation]], dict[Site, list[Installation]]]:
        sites = list(sites)
        history = self._uow.installations.history(
            tenant_id,
            meter_ids=[row.id for row in meters],
            usage_point_ids=[s.usage_point_id for s in sites if s.usage_point_id],
            node_ids=[s.node_id for s in sites if s.node_id],
        )
        by_meter: dict[int, list[Installation]] = defaultdict(list)
        by_site: dict[Site, list[Installation]] = defaultdict(list)
        for item in history:
            by_meter[item.meter_id].append(item)
            by_site[item.site].append(item)
        return by_meter, by_site

    def _replace_out(
        self,
        link: LinkSpec,
        site: Site,
        site_hist: dict[Site, list[Installation]],
        meter_hist: dict[int, list[Installation]],
        stages: dict[int, Stage],
        batch: _Batch,
        meters: dict[str, Row[Any]],
    ) -> None:
        old = next((h for h in site_hist[site] if h.active and h.role is link.role), None)
        named = link.replaced_meter
        if named is not None and (old is None or old.meter_id != meters[named].id):
            where = f"{old.meter!r} is" if old else "no meter is"
            raise DomainRuleError(
                f"{link.site_key!r}: the replaced meter is {named!r}, but {where} installed there",
                object_id=named,
            )
        if old is None:
            return  # nothing to replace: a first installation
        closed = self._take_out(old, link, stages, batch)
        for hist in (site_hist[site], meter_hist[old.meter_id]):
            hist[:] = [closed if h.id == old.id else h for h in hist]

    def _take_out(
        self, current: Installation, link: LinkSpec, stages: dict[int, Stage], batch: _Batch
    ) -> Installation:
        closed = current.closed(link.at)
        assert current.id is not None
        batch.closes.append((current.id, link.at, link.reason))
        stage = stages.get(current.meter_id, Stage.UNKNOWN)
        check_transition(stage, Stage.REMOVED, meter=current.meter)
        batch.moves.append(
            (current.meter_id, Transition(stage, Stage.REMOVED, link.at, link.by, link.reason))
        )
        stages[current.meter_id] = Stage.REMOVED
        if link.final_read is not None:
            batch.reads.append(
                (current.meter_id, current.meter, link.reading_type, link.at, link.final_read)
            )
        return closed

    def _move_in(
        self, meter: Row[Any], link: LinkSpec, stages: dict[int, Stage], batch: _Batch
    ) -> None:
        stage = stages[meter.id]
        if stage in IN_FIELD:
            return
        if stage not in BEFORE_FIELD:
            check_transition(stage, Stage.INSTALLED, meter=meter.mrid)  # raises 3.4
        batch.moves.append(
            (meter.id, Transition(stage, Stage.INSTALLED, link.at, link.by, link.reason))
        )
        stages[meter.id] = Stage.INSTALLED

    def _write(
        self, tenant_id: int, batch: _Batch, by: str, origin: Provenance
    ) -> tuple[list[Batch], dict[str, int]]:
        installs = self._uow.installations
        installs.close(batch.closes)
        installs.add(tenant_id, batch.new, by=by, reasons=batch.reasons)
        self._uow.lifecycle.record(tenant_id, batch.moves, source=origin.source)
        if not batch.reads:
            return [], {}
        return self._save_reads(tenant_id, batch.reads, origin)

    def _save_reads(
        self, tenant_id: int, reads: list[tuple[int, str, str, int, float]], origin: Provenance
    ) -> tuple[list[Batch], dict[str, int]]:
        type_ids = self._uow.reading_types.ids_for({code for _, _, code, _, _ in reads})
        self._uow.readings.save(
            tenant_id,
            ReadingKind.REGISTER,
            [
                (
                    meter_id,
                    type_ids[code],
                    Series(MeterRef(mrid), code, ReadingKind.REGISTER, [ts], [value], [""]),
                )
                for meter_id, mrid, code, ts, value in reads
            ],
            source=origin.source,
            message_log_id=origin.message_log_id,
            received_at=origin.received_at,
        )
        series: dict[SeriesKey, list[tuple[int, float]]] = defaultdict(list)
        for meter_id, _, code, ts, value in reads:
            series[SeriesKey(meter_id, code)].append((ts, value))
        batches = [
            Batch(
                key, ReadingKind.REGISTER, [t for t, _ in pts], [v for _, v in pts], [""] * len(pts)
            )
            for key, pts in ((k, sorted(p)) for k, p in series.items())
        ]
        return batches, type_ids
