"""The simulator as `cimhub simulate hes` assembles it: meters, the CIM head-end (and the MQTT
vendor head-end), the fault plan with its ground truth, and how time runs."""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.faults import Fault, FaultPlan, FaultRates, GroundTruth
from cimhub.simulator.fleet import SimMeter, from_csv, numbered, write_csv
from cimhub.simulator.simulation import HeadEnd, Simulation


@dataclass
class Setup:
    simulation: Simulation
    cim: HttpHes
    mqtt: Any = None  # MqttHes when a broker is given
    faults_file: IO[str] | None = None
    hub: str = ""

    @classmethod
    def from_arguments(
        cls,
        args: argparse.Namespace,
        start: int,
        ack_delay: tuple[float, float],
        outcome_delay: tuple[float, float],
        rates: dict[str, float],
    ) -> Setup:
        faults_file = args.faults_out.open("a", encoding="utf-8") if args.faults_out else None
        truth = GroundTruth(_writer(faults_file) if faults_file else None)
        behaviour = Behaviour(args.fail_rate, args.silent_rate, ack_delay=ack_delay,
                              outcome_delay=outcome_delay, seed=args.seed, truth=truth)  # fmt: skip
        meters = _meters(args)
        if args.meters_out:
            write_csv(meters, Path(args.meters_out))
        api_key = args.api_key_file.read_text().strip() if args.api_key_file else None
        cim = HttpHes(args.hub, name=args.name, tenant=args.tenant, behaviour=behaviour,
                      port=args.port, transport=args.transport, api_key=api_key,
                      read_reply=args.read_reply).up()  # fmt: skip
        head_ends: dict[str, HeadEnd] = {args.name: cim}
        mqtt = None
        if args.mqtt_url:
            from cimhub.adapters.profile import load_profile
            from cimhub.simulator.mqtt_head_end import MqttHes

            mqtt = MqttHes(args.mqtt_url, load_profile(args.vendor), args.prefix,
                           behaviour=behaviour).start()  # fmt: skip
            head_ends[args.mqtt_name] = mqtt
        plan = FaultPlan(FaultRates(**rates), seed=args.seed)
        simulation = Simulation(meters, head_ends, start=start, plan=plan, truth=truth,
                                seed=args.seed)  # fmt: skip
        return cls(simulation, cim, mqtt, faults_file, args.hub)

    def run(self, stop: threading.Event, *, speed: float, every: float, end: int | None) -> None:
        """Speed 0 replays (start, end] at once — up to now, then on in real time (to the end,
        if there is one); otherwise simulated time runs ``speed`` times the real one."""
        if speed == 0:
            now = int(time.time())  # never ahead of the clock: the rest runs in real time
            self.simulation.replay(min(end, now) if end else now, step=86_400)
            if end is not None and end <= now:
                return
            speed = 1.0
        self.simulation.run(stop, speed=speed, every=every, end=end)

    def banner(self) -> str:
        s, lines = self.simulation, []
        for name, head_end in s.head_ends.items():
            count = sum(1 for m in s.meters if m.hes == name)
            where = f"commands at {self.cim.url}" if head_end is self.cim else "MQTT vendor profile"
            lines.append(f"  {name}: {count} meter(s), {where}")
        return f"HES simulator → {self.hub}\n" + "\n".join(lines)

    def summary(self) -> str:
        faults = self.simulation.truth.faults
        kinds = sorted({f.kind.value for f in faults})
        counts = ", ".join(f"{k} {sum(1 for f in faults if f.kind.value == k)}" for k in kinds)
        return f"simulated up to {self.simulation.clock}; faults injected: {counts or 'none'}"

    def close(self) -> None:
        self.cim.down()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.faults_file is not None:
            self.faults_file.close()


def _meters(args: argparse.Namespace) -> list[SimMeter]:
    interval = args.interval * 60
    if args.meters_csv:
        meters = from_csv(Path(args.meters_csv), interval=interval, seed=args.seed)
        meters = [m if m.hes == args.mqtt_name else replace(m, hes=args.name) for m in meters]
    else:
        meters = numbered(args.meters, hes=args.name, first=args.first, interval=interval,
                          seed=args.seed)  # fmt: skip
    if args.mqtt_url and args.mqtt_meters:
        first = max((m.number for m in meters), default=args.first - 1) + 1
        meters += numbered(args.mqtt_meters, hes=args.mqtt_name, first=first,
                           interval=interval, seed=args.seed)  # fmt: skip
    return meters


def _writer(handle: IO[str]) -> Any:
    def write(fault: Fault) -> None:
        handle.write(json.dumps(fault.plain()) + "\n")
        handle.flush()

    return write
