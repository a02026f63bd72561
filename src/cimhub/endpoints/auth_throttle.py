"""Throttled auditing of refused authentications: one audit entry per key and period."""

from __future__ import annotations

import threading
import time


class Throttle:
    """At most one audit record per key per period (with the count of those skipped)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._lock = threading.Lock()
        self._last: dict[tuple[str, ...], tuple[float, int]] = {}

    def due(self, key: tuple[str, ...]) -> int | None:
        """None when the key was recorded within the period, else how many were skipped."""
        now = time.monotonic()
        with self._lock:
            last, skipped = self._last.get(key, (float("-inf"), 0))
            if now - last < self.period:
                self._last[key] = (last, skipped + 1)
                return None
            if len(self._last) > 10_000:  # bounded memory under a flood of distinct keys
                self._last.clear()
            self._last[key] = (now, 0)
            return skipped
