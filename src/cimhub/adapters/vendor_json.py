"""Vendor JSON ↔ CIM messages, by a vendor profile: interval reads → MeterReadings created,
events → EndDeviceEvents created, command status → EndDeviceControls changed, and commands
→ the vendor's command JSON. What comes in becomes an ordinary CIM message for the pipeline.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime
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


def readings_message(profile: VendorProfile, raw: bytes) -> bytes:
    """A vendor interval read as MeterReadings created (values scaled, OBIS → ReadingType)."""
    data, spec = _json(raw), profile.readings
    meter = str(_field(data, spec["meter"], "meter"))
    series: dict[str, dict[int, float]] = defaultdict(dict)
    for row in _field(data, spec["list"], "readings list"):
        ts = _time(_field(row, spec["time"], "time"), spec.get("time_format", "iso"))
        if spec.get("layout") == "rows":
            pairs = [(str(_field(row, spec["obis"], "OBIS")), _field(row, spec["value"], "value"))]
        else:
            pairs = [(k, v) for k, v in row.items() if k != spec["time"]]
        for obis, value in pairs:
            mapping = profile.obis.get(obis)
            if mapping is None:
                continue  # a column the profile does not map (health, signal strength…)
            try:
                series[mapping.reading_type][ts] = float(value) * 10**mapping.scaler
            except (TypeError, ValueError) as exc:
                raise InvalidValueError(f"value {value!r} of {obis} is not a number") from exc
    if not series:
        raise InvalidValueError("no value of a mapped OBIS code in the payload")
    out = [
        SeriesOut(
            rt, _reading_kind(rt), sorted(v), [round(v[t], 6) for t in sorted(v)], [""] * len(v)
        )
        for rt, v in series.items()
    ]
    payload = write_meter_readings([(MeterRef(None, (meter,)), out)])
    noun = Noun.METER_READINGS.value
    return wrap(noun, Verb.CREATED, payload, _message_id(profile, raw), None)


def _reading_kind(reading_type: str) -> ReadingKind:
    """Interval data has a measuring period (block load); the rest are register reads
    (daily-load and billing registers, MD)."""
    return (
        ReadingKind.INTERVAL
        if parse_reading_type(reading_type).interval_seconds
        else ReadingKind.REGISTER
    )


def events_message(profile: VendorProfile, raw: bytes) -> bytes:
    """Vendor events as EndDeviceEvents created; an unknown event ID stays (unmapped)."""
    data, spec = _json(raw), profile.events
    rows = data.get(spec.get("list", ""), [data]) if spec.get("list") in data else [data]
    events = []
    for row in rows:
        code = str(_field(row, spec["id"], "event id"))
        meter = str(
            _field(row, spec["meter"], "meter") if spec["meter"] in row else data[spec["meter"]]
        )
        events.append(
            Event(
                meter=MeterRef(None, (meter,)),
                created=_time(_field(row, spec["time"], "time"), spec.get("time_format", "iso")),
                event_type=profile.event_types.get(code, f"{VENDOR_CODE}={code}"),
                vendor_code=code,
                vendor_group=str(row[spec["group"]]) if spec.get("group") in row else None,
                reason=f"{profile.name} event {code}",
            )
        )
    payload = write_end_device_events(events)
    return wrap(
        Noun.END_DEVICE_EVENTS.value, Verb.CREATED, payload, _message_id(profile, raw), None
    )


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
    return json.dumps(body).encode()


def command_meter(command: Command) -> str:
    """The meter id a vendor knows: its serial (first name), else the mRID."""
    return command.meter.names[0] if command.meter.names else command.meter.key
