"""A fake head-end system: takes EndDeviceControls and answers GetMeterReadings.

It knows three meters (CONF-HES-0001…0003, serials CONF-HES-SN-0001…), the ones the
`hes` cases name, and reads 15-minute kWh from them deterministically. Commands for other
meters are refused with 2.15, item by item.
"""

from __future__ import annotations

from cimhub.conformance.fake import FakeEndpoint, Handler
from cimhub.conformance.observed import child, children, text
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.errors import InvalidQueryError, PayloadError
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.mappings.reading_query import read_reading_query
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result

KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
METERS = {f"CONF-HES-{n:04d}": f"CONF-HES-SN-{n:04d}" for n in (1, 2, 3)}
INTERVAL = 900
MAX_READINGS = 96 * 7


def reading_value(meter: str, epoch: int) -> float:
    """The kWh the fake meter reports for the interval ending at `epoch`."""
    return round(0.1 + ((sum(map(ord, meter)) + epoch // INTERVAL) % 10) / 20, 3)


class FakeHes(FakeEndpoint):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands: list[tuple[str, str]] = []  # (meter, EndDeviceControlType)

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("EndDeviceControls", "create"): self.control,
            ("MeterReadings", "get"): self.read,
        }

    def _known(self, ref: MeterRef) -> str | None:
        if ref.mrid in METERS:
            return ref.mrid
        return next((m for m, serial in METERS.items() if serial in ref.names), None)

    def control(self, envelope: Envelope) -> Outcome:
        """Queue each control for the meters it names; unknown meters are 2.15 each."""
        if envelope.payload is None:
            raise PayloadError("EndDeviceControls without a payload")
        errors, queued = [], 0
        for control in children(envelope.payload, "EndDeviceControl"):
            kind_el = child(control, "EndDeviceControlType")
            kind = kind_el.get("ref", "") if kind_el is not None else ""
            for device in children(control, "EndDevices"):
                names = tuple(n.text or "" for n in device.iterfind("{*}Names/{*}name"))
                ref = MeterRef(text(device, "mRID"), names)
                meter = self._known(ref)
                if meter is None:
                    errors.append(ReplyError("2.15", f"unknown meter {ref.key}", object_id=ref.key))
                else:
                    self.commands.append((meter, kind))
                    queued += 1
        if errors:
            return Outcome(Result.PARTIAL if queued else Result.FAILED, errors)
        if not queued:
            raise PayloadError("the EndDeviceControls name no EndDevices")
        return Outcome(summary=f"{queued} command(s) queued for the meters")

    def read(self, envelope: Envelope) -> Outcome:
        """An on-demand read: 15-minute kWh for each known meter over the period."""
        query = read_reading_query(envelope)
        if query.end is None or query.start is None:
            raise InvalidQueryError("an on-demand read needs a period", xpath="Request")
        errors, found = [], []
        for ref in query.meters:
            meter = self._known(ref)
            if meter is None:
                errors.append(ReplyError("2.15", f"unknown meter {ref.key}", object_id=ref.key))
            elif not query.reading_types or KWH_15MIN in query.reading_types:
                first = (query.start // INTERVAL + 1) * INTERVAL
                stamps = list(range(first, query.end + 1, INTERVAL))[:MAX_READINGS]
                values = [reading_value(meter, t) for t in stamps]
                blank = [""] * len(stamps)
                series = SeriesOut(KWH_15MIN, ReadingKind.INTERVAL, stamps, values, blank)
                found.append((MeterRef(meter, (METERS[meter],)), [series]))
        if errors and not found:
            return Outcome(Result.FAILED, errors)
        outcome = Outcome(payload=write_meter_readings(found))
        if errors:
            outcome.result, outcome.errors = Result.PARTIAL, errors
        return outcome
