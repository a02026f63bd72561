"""Vendor JSON ↔ CIM messages, by a vendor profile: interval reads → MeterReadings created,
events → EndDeviceEvents created, command status → EndDeviceControls changed, and commands
→ the vendor's command JSON. What comes in becomes an ordinary CIM message for the pipeline.

``translate`` keeps the rows of a payload that fit the profile and hands back each row that
does not as a payload of its own, with the reason (to dead-letter, and replay once the
profile is fixed); the ``…_message`` functions refuse a payload with any such row.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cimhub.adapters.profile import VendorProfile
from cimhub.bus.events import wrap
from cimhub.domain.command import Command, State, Transition, parse_status
from cimhub.domain.event import Event
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.domain.reading_type import parse_reading_type
from cimhub.errors import InvalidValueError
from cimhub.mappings.end_device_controls import write_end_device_controls
from cimhub.mappings.end_device_events import VENDOR_CODE, write_end_device_events
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.message.verb import Noun, Verb


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidValueError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidValueError("payload is not a JSON object")
    return data


def _time(value: Any, fmt: str) -> int:
    try:
        if fmt == "epoch":
            return int(value)
        stamp = datetime.fromisoformat(str(value))
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"bad time {value!r}") from exc
    if stamp.tzinfo is None:
        raise InvalidValueError(f"time {value!r} has no zone")
    return int(stamp.timestamp())


def _field(data: dict[str, Any], name: str, what: str) -> Any:
    if name not in data:
        raise InvalidValueError(f"{what} field {name!r} missing")
    return data[name]


def _message_id(profile: VendorProfile, raw: bytes) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-mqtt-{profile.name}-{raw!r}"))


@dataclass(frozen=True, slots=True)
class Refused:
    """A row that does not fit the profile, as a payload of its own."""

    reason: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Translation:
    """The CIM message of the rows that fit (None when none did), and the rows refused."""

    message: bytes | None
    refused: tuple[Refused, ...] = ()


def _rows(data: dict[str, Any], name: str, what: str) -> list[dict[str, Any]]:
    rows = _field(data, name, what)
    if not isinstance(rows, list):
        raise InvalidValueError(f"{what} field {name!r} is not a list")
    return rows


def _fits(
    rows: list[Any], read: Callable[[Any], Any], alone: Callable[[Any], dict[str, Any]]
) -> tuple[list[Any], tuple[Refused, ...]]:
    """Each row read, or refused with its reason as a payload of its own (``alone``)."""
    kept, refused = [], []
    for row in rows:
        try:
            if not isinstance(row, dict):
                raise InvalidValueError(f"row {row!r} is not a JSON object")
            kept.append(read(row))
        except InvalidValueError as exc:
            refused.append(Refused(exc.reason, json.dumps(alone(row)).encode()))
    return kept, tuple(refused)


def readings(profile: VendorProfile, raw: bytes) -> Translation:
    """Vendor interval and register reads as MeterReadings created (values scaled, OBIS →
    ReadingType; a type with a measuring period is interval data, else a register read)."""
    data, spec = _json(raw), profile.readings
    meter = str(_field(data, spec["meter"], "meter"))
    kept, refused = _fits(
        _rows(data, spec["list"], "readings list"),
        lambda row: _reading_row(profile, row),
        lambda row: {spec["meter"]: meter, spec["list"]: [row]},
    )
    series: dict[str, dict[int, float]] = defaultdict(dict)
    for values in kept:
        for reading_type, ts, value in values:
            series[reading_type][ts] = value
    if not series:
        if refused:
            return Translation(None, refused)
        raise InvalidValueError("no value of a mapped OBIS code in the payload")
    out = [
        SeriesOut(
            rt, _reading_kind(rt), sorted(v), [round(v[t], 6) for t in sorted(v)], [""] * len(v)
        )
        for rt, v in series.items()
    ]
    payload = write_meter_readings([(MeterRef(None, (meter,)), out)])
    noun = Noun.METER_READINGS.value
    return Translation(wrap(noun, Verb.CREATED, payload, _message_id(profile, raw), None), refused)


def _reading_row(profile: VendorProfile, row: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(ReadingType, time, scaled value) of every mapped OBIS code of one row."""
    spec = profile.readings
    ts = _time(_field(row, spec["time"], "time"), spec.get("time_format", "iso"))
    if spec.get("layout") == "rows":
        pairs = [(str(_field(row, spec["obis"], "OBIS")), _field(row, spec["value"], "value"))]
    else:
        pairs = [(k, v) for k, v in row.items() if k != spec["time"]]
    found = []
    for obis, value in pairs:
        mapping = profile.obis.get(obis)
        if mapping is None:
            continue  # a column the profile does not map (health, signal strength…)
        try:
            found.append((mapping.reading_type, ts, float(value) * 10**mapping.scaler))
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"value {value!r} of {obis} is not a number") from exc
    return found


def readings_message(profile: VendorProfile, raw: bytes) -> bytes:
    """A vendor interval read as MeterReadings created; every row must fit."""
    return _whole(readings(profile, raw))


def _whole(translation: Translation) -> bytes:
    if translation.refused or translation.message is None:
        raise InvalidValueError(translation.refused[0].reason)
    return translation.message


def _reading_kind(reading_type: str) -> ReadingKind:
    """Interval data has a measuring period (block load); the rest are register reads
    (daily-load and billing registers, MD)."""
    return (
        ReadingKind.INTERVAL
        if parse_reading_type(reading_type).interval_seconds
        else ReadingKind.REGISTER
    )


def events(profile: VendorProfile, raw: bytes) -> Translation:
    """Vendor events as EndDeviceEvents created; an unknown event ID stays (unmapped)."""
    data, spec = _json(raw), profile.events
    listed = spec.get("list") in data
    rows = _rows(data, spec["list"], "events list") if listed else [data]
    top = {spec["meter"]: data[spec["meter"]]} if listed and spec["meter"] in data else {}
    kept, refused = _fits(
        rows,
        lambda row: _event(profile, row, top),
        lambda row: {**top, spec["list"]: [row]} if listed else row,
    )
    if not kept:
        return Translation(None, refused)
    payload = write_end_device_events(kept)
    noun = Noun.END_DEVICE_EVENTS.value
    return Translation(wrap(noun, Verb.CREATED, payload, _message_id(profile, raw), None), refused)


def _event(profile: VendorProfile, row: dict[str, Any], top: dict[str, Any]) -> Event:
    spec = profile.events
    code = str(_field(row, spec["id"], "event id"))
    meter = str(_field({**top, **row}, spec["meter"], "meter"))
    return Event(
        meter=MeterRef(None, (meter,)),
        created=_time(_field(row, spec["time"], "time"), spec.get("time_format", "iso")),
        event_type=profile.event_types.get(code, f"{VENDOR_CODE}={code}"),
        vendor_code=code,
        vendor_group=str(row[spec["group"]]) if spec.get("group") in row else None,
        reason=f"{profile.name} event {code}",
    )


def events_message(profile: VendorProfile, raw: bytes) -> bytes:
    """Vendor events as EndDeviceEvents created; every event must fit."""
    return _whole(events(profile, raw))


def status_message(profile: VendorProfile, raw: bytes) -> bytes:
    """A vendor command status as EndDeviceControls changed, status in CIM words."""
    data, spec = _json(raw), profile.commands
    word = str(_field(data, spec["status"], "status"))
    state = parse_status(word)
    if state is None:
        raise InvalidValueError(f"unknown command status {word!r}")
    at = _time(_field(data, spec["time"], "time"), profile.events.get("time_format", "iso"))
    command = Command(
        mrid=str(_field(data, spec["id"], "command id")),
        kind=_kind(profile, str(data.get(spec["action"], ""))),
        meter=MeterRef(None, (str(_field(data, spec["meter"], "meter")),)),
        requester=profile.name,
        source=profile.name,
        history=[Transition(state, at, profile.name, str(data.get(spec["reason"], "")))],
    )
    payload = write_end_device_controls([command])
    for value in payload.iterfind(".//{*}status/{*}value"):
        value.text = {State.ACKNOWLEDGED: "queued"}.get(state, state.value)
    noun = Noun.END_DEVICE_CONTROLS.value
    return wrap(noun, Verb.CHANGED, payload, _message_id(profile, raw), None)


#: Kind of topic → its translation.
TRANSLATIONS: dict[str, Callable[[VendorProfile, bytes], Translation]] = {
    "readings": readings,
    "events": events,
    "status": lambda profile, raw: Translation(status_message(profile, raw)),
}


def _kind(profile: VendorProfile, word: str) -> Any:
    from cimhub.domain.command import CommandKind

    for kind, vendor_word in profile.command_words.items():
        if vendor_word == word:
            return CommandKind(kind)
    return CommandKind.READ if not word else CommandKind.CONNECT


def command_json(profile: VendorProfile, command: Command) -> bytes:
    """The vendor's command JSON for one command."""
    spec = profile.commands
    meter = command_meter(command)
    word = profile.command_words.get(command.kind.value)
    if word is None:
        raise InvalidValueError(f"vendor profile {profile.name!r} has no command {command.kind}")
    body: dict[str, Any] = {spec["id"]: command.mrid, spec["meter"]: meter, spec["action"]: word}
    if command.demand_limit_w is not None and "limit" in spec:
        body[spec["limit"]] = command.demand_limit_w
    if command.period is not None and "from" in spec and "to" in spec:  # a read's period
        fmt = profile.readings.get("time_format", "iso")
        body[spec["from"]] = _stamp(command.period.start, fmt)
        body[spec["to"]] = _stamp(command.period.end, fmt)
    return json.dumps(body).encode()


def _stamp(epoch: int, fmt: str) -> int | str:
    """An instant as the vendor writes it: epoch seconds, or ISO 8601 in UTC."""
    return epoch if fmt == "epoch" else datetime.fromtimestamp(epoch, UTC).isoformat()


def command_meter(command: Command) -> str:
    """The meter id a vendor knows: its serial (first name), else the mRID."""
    return command.meter.names[0] if command.meter.names else command.meter.key
