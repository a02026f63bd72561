"""`cimhub serve --demo`: the HES simulator's CIM head-end pushing its meters' IS 15959
profiles over HTTP, replaying yesterday an hour every few seconds, then in real time."""

from __future__ import annotations

import logging
import threading
import time

import httpx

from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.fleet import numbered
from cimhub.simulator.simulation import Simulation

log = logging.getLogger("cimhub.demo")


class DemoHes(threading.Thread):
    """Simulated meters of one head-end, sped up until they catch up with the clock."""

    def __init__(
        self,
        base_url: str,
        *,
        meters: int = 20,
        every_seconds: float = 2.5,
        api_key: str | None = None,
    ) -> None:
        super().__init__(name="demo-hes", daemon=True)
        self.base_url = base_url.rstrip("/")
        self.every = every_seconds
        self._stop = threading.Event()
        head_end = HttpHes(self.base_url, name="DEMO-HES", tenant=None, api_key=api_key)
        yesterday = (int(time.time()) // 86_400 - 1) * 86_400
        self.simulation = Simulation(
            numbered(meters, hes="DEMO-HES"), {"DEMO-HES": head_end}, start=yesterday
        )

    def run(self) -> None:
        if not self._wait_until_up():
            return
        print(
            f"demo: a simulated HES pushes {len(self.simulation.meters)} meters' 15-minute "
            f"profiles to {self.base_url}/cim; fetch them with GetMeterReadings (see README).",
            flush=True,
        )
        # an hour of simulated time per push until it reaches the real clock
        self.simulation.run(self._stop, speed=3600 / self.every, every=self.every)

    def _wait_until_up(self) -> bool:
        health = self.base_url + "/healthz"
        for _ in range(100):
            try:
                if httpx.get(health, timeout=5).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if self._stop.wait(0.1):
                return False
        log.error("demo: the hub did not come up at %s", health)
        return False

    def stop(self) -> None:
        self._stop.set()
