"""A daemon thread that calls one function every few seconds until stopped (a failure is
logged, never the end of the thread): housekeeping that must follow commands closely."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cimhub.errors import CimHubError

log = logging.getLogger("cimhub.poller")


class Poller:
    def __init__(self, name: str, work: Callable[[], object], interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Poller:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.work()
            except CimHubError as exc:
                log.warning("%s paused: %s", self.name, exc.reason)
            except Exception:  # a bug must not end the thread
                log.exception("%s failed", self.name)
