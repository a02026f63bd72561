"""`cimhub simulate hes`: head-ends for N simulated meters — a CIM head-end (data to the hub
over HTTP or SOAP, commands at its own endpoint) and, with ``--mqtt-url``, an MQTT vendor
head-end — publishing IS 15959 profiles and events in real time or replaying a past period,
with faults injected on request. `cimhub hes-sim` is the same command by its old name."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))
RATES = {  # flag → FaultRates field
    "missing_rate": "missing", "duplicate_rate": "duplicate", "spike_rate": "spike",
    "late_per_day": "late", "late_hours": "late_hours", "drift_share": "drift",
    "drift_seconds_per_day": "drift_seconds_per_day", "tamper_per_day": "tamper",
    "outages_per_day": "outage", "outage_minutes": "outage_minutes",
    "silence_per_day": "silence", "silence_hours": "silence_hours",
}  # fmt: skip


def add_commands(commands: Any) -> None:
    """Register `simulate hes` and its old name `hes-sim`."""
    simulate = commands.add_parser("simulate", help="simulators (a head-end and its meters)")
    kinds = simulate.add_subparsers(required=True, metavar="WHAT")
    _arguments(kinds.add_parser("hes", help="simulated head-ends and meters (CIM, MQTT)"))
    _arguments(commands.add_parser("hes-sim", help="the old name of `cimhub simulate hes`"))


def _arguments(p: argparse.ArgumentParser) -> None:
    hub = p.add_argument_group("the hub")
    hub.add_argument("--hub", default="http://127.0.0.1:8061", help="the hub's base URL")
    hub.add_argument("--tenant", default="default", help="tenant (open loopback mode)")
    hub.add_argument("--transport", choices=("http", "soap"), default="http", help="CIM data out")
    hub.add_argument("--api-key-file", type=Path, help="file holding the head-end's API key")
    cim = p.add_argument_group("the CIM head-end")
    cim.add_argument("--name", default="HES-SIM", help="its name (message Source, meters' hes)")
    cim.add_argument("--port", type=int, default=8071, help="where it takes CIM commands")
    cim.add_argument("--meters", type=int, default=20, help="its meters (MH4500001…)")
    cim.add_argument(
        "--meters-csv", type=Path, help="meters from a meter CSV (mrid, serial_number, hes)"
    )
    cim.add_argument("--first", type=int, default=1, help="number of the first meter")
    cim.add_argument("--meters-out", type=Path, help="write the meters as a CSV to import")
    cim.add_argument("--interval", type=int, choices=(15, 30), default=15, help="block minutes")
    cim.add_argument(
        "--read-reply",
        choices=("sync", "async"),
        default="sync",
        help="a GetMeterReadings is answered with the readings (sync), or 0.3 then a "
        "CreatedMeterReadings after --outcome-delay (async)",
    )
    mqtt = p.add_argument_group("the MQTT vendor head-end")
    mqtt.add_argument("--mqtt-url", help="speak a vendor profile on this MQTT broker too")
    mqtt.add_argument("--vendor", default="vendor-a", help="vendor profile (name or TOML path)")
    mqtt.add_argument("--prefix", default="cimhub", help="topic prefix (CIMHUB_MQTT_TOPIC_PREFIX)")
    mqtt.add_argument("--mqtt-name", default="HES-MQTT", help="its name (the meters' hes)")
    mqtt.add_argument("--mqtt-meters", type=int, default=0, help="its meters (after the CIM ones)")
    clock = p.add_argument_group("time")
    clock.add_argument("--start", help="ISO date/time (no zone: IST); default now")
    clock.add_argument("--end", help="stop at this simulated time (default: run on)")
    clock.add_argument("--speed", type=float, default=1.0, help="× real time; 0 replays at once")
    clock.add_argument("--every", type=float, default=60.0, help="seconds between sends")
    clock.add_argument("--seed", type=int, default=0, help="seeds loads and random faults")
    cmd = p.add_argument_group("commands")
    cmd.add_argument("--fail-rate", type=float, default=0.0, help="share of commands failing")
    cmd.add_argument("--silent-rate", type=float, default=0.0, help="share never answered")
    cmd.add_argument("--ack-delay", default="0", help="seconds before accepting, e.g. 0.5-3")
    cmd.add_argument("--outcome-delay", default="0", help="seconds to the outcome, e.g. 2-10")
    faults = p.add_argument_group("faults (recorded in --faults-out)")
    for flag, default, words in (
        ("missing-rate", 0.0, "share of intervals never sent"),
        ("duplicate-rate", 0.0, "share of intervals sent twice"),
        ("spike-rate", 0.0, "share of intervals with a spike (×25)"),
        ("late-per-day", 0.0, "per meter and day: an hour of data sent late"),
        ("late-hours", 3.0, "how late"),
        ("drift-share", 0.0, "share of meters whose clock drifts"),
        ("drift-seconds-per-day", 90.0, "how fast"),
        ("tamper-per-day", 0.0, "per meter and day: a tamper burst"),
        ("outages-per-day", 0.0, "per meter and day: an outage"),
        ("outage-minutes", 45.0, "how long"),
        ("silence-per-day", 0.0, "per meter and day: the meter sends nothing"),
        ("silence-hours", 6.0, "how long"),
    ):
        faults.add_argument(f"--{flag}", type=float, default=default, help=words)
    faults.add_argument("--faults-out", type=Path, help="write each injected fault (JSON lines)")
    p.set_defaults(run=_simulate)


def _when(text: str | None, default: int) -> int:
    if not text or text == "now":
        return default
    moment = datetime.fromisoformat(text)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=IST)).timestamp())


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def _simulate(args: argparse.Namespace) -> int:
    from cimhub.simulator.setup import Setup

    now = int(time.time())
    start, end = _when(args.start, now), _when(args.end, 0) or None
    rates = {field: getattr(args, flag) for flag, field in RATES.items()}
    delays = _range(args.ack_delay), _range(args.outcome_delay)
    setup = Setup.from_arguments(args, start, *delays, rates)
    print(setup.banner(), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        setup.run(stop, speed=args.speed, every=args.every, end=end)
    finally:
        setup.close()
    print(setup.summary(), file=sys.stderr, flush=True)
    return 0
