"""`cimhub serve --demo`: a simulated HES pushing 15-minute reads over HTTP, one day a minute."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import httpx

from cimhub.testing.messages import created_meter_readings

log = logging.getLogger("cimhub.demo")


class DemoHes(threading.Thread):
    """Posts the next hour of readings for every meter every few seconds (time runs fast)."""

    def __init__(
        self,
        base_url: str,
        *,
        meters: int = 20,
        every_seconds: float = 2.5,
        api_key: str | None = None,
    ) -> None:
        super().__init__(name="demo-hes", daemon=True)
        self.headers = {"Content-Type": "application/xml"}
        if api_key:  # the hub requires authentication: the demo HES has its own credential
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.url = base_url.rstrip("/") + "/cim"
        self.meters = list(range(1, meters + 1))
        self.every = every_seconds
        self._stop = threading.Event()
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.clock = today - timedelta(days=1)  # replay yesterday, an hour per push

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            if not self._wait_until_up(client):
                return
            print(
                f"demo: a simulated HES pushes {len(self.meters)} meters' 15-minute reads to "
                f"{self.url}; fetch them with GetMeterReadings (see README).",
                flush=True,
            )
            while not self._stop.is_set():
                self._push(client)
                self._stop.wait(self.every)

    def _wait_until_up(self, client: httpx.Client) -> bool:
        health = self.url.removesuffix("/cim") + "/healthz"
        for _ in range(100):
            try:
                if client.get(health).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            if self._stop.wait(0.1):
                return False
        log.error("demo: the hub did not come up at %s", health)
        return False

    def _push(self, client: httpx.Client) -> None:
        body = created_meter_readings(self.meters, self.clock, intervals=4, source="DEMO-HES")
        try:
            reply = client.post(self.url, content=body, headers=self.headers)
            log.info("demo: pushed %s → HTTP %s", self.clock.isoformat(), reply.status_code)
        except httpx.TransportError as exc:
            log.warning("demo: push failed: %s", exc)
        self.clock += timedelta(hours=1)

    def stop(self) -> None:
        self._stop.set()
