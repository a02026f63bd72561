"""Where a message's time goes: wall time per named stage of handling it.

A ``StageClock`` belongs to a pipeline; ``running`` makes it the clock of the calling
thread, and ``stage(name)`` anywhere below (handler, repository, VEE service) charges the
time spent inside it to ``name``. Time is *exclusive*: while an inner stage runs, the outer
one is paused, so the stages of a message add up to its wall time and a table of them
says what to make faster. The cyclic garbage collector's passes on a timed thread are a
stage of their own (``GARBAGE_COLLECTION``). Outside a running clock ``stage`` does
nothing.

The cost is two ``perf_counter`` calls and a lock per stage: a few microseconds a
message, against the milliseconds a message takes; cheap enough to leave on, so
`/metrics` exports the totals (``cimhub_stage_seconds_total``) and `cimhub bench`
itemises them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter
from types import TracebackType

#: what a running clock charges time to when no named stage is open
REST = "rest"
#: the cyclic garbage collector's passes, wherever they interrupt a timed thread
GARBAGE_COLLECTION = "garbage collection"

_local = threading.local()


class StageClock:
    """Seconds and completed calls per stage name, summed over every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._calls: dict[str, int] = {}

    def add(self, name: str, seconds: float, calls: int) -> None:
        with self._lock:
            self._seconds[name] = self._seconds.get(name, 0.0) + seconds
            self._calls[name] = self._calls.get(name, 0) + calls

    def totals(self) -> dict[str, tuple[float, int]]:
        """(seconds, calls) of every stage so far."""
        with self._lock:
            return {name: (s, self._calls[name]) for name, s in self._seconds.items()}

    @contextmanager
    def running(self) -> Iterator[None]:
        """This clock times the calling thread inside the block (time outside any named
        stage goes to ``REST``). Nested in a block already timed, it changes nothing."""
        if getattr(_local, "stack", None):
            yield
            return
        _local.clock, _local.stack, _local.collected = self, [], (0.0, 0)
        try:
            with stage(REST):
                yield
        finally:
            _local.clock = _local.stack = None
            seconds, calls = _local.collected
            if calls:
                self.add(GARBAGE_COLLECTION, seconds, calls)


class _Stage:
    __slots__ = ("clock", "name", "started")

    def __init__(self, clock: StageClock, name: str) -> None:
        self.clock, self.name, self.started = clock, name, 0.0

    def __enter__(self) -> _Stage:
        now = perf_counter()
        stack: list[_Stage] = _local.stack
        if stack:  # pause the enclosing stage
            outer = stack[-1]
            self.clock.add(outer.name, now - outer.started, 0)
        self.started = now
        stack.append(self)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        now = perf_counter()
        stack: list[_Stage] = _local.stack
        stack.pop()
        self.clock.add(self.name, now - self.started, 1)
        if stack:  # resume the enclosing stage
            stack[-1].started = now


class _Idle:
    """What ``stage`` gives outside a running clock."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None


_IDLE = _Idle()


def stage(name: str) -> _Stage | _Idle:
    """A block whose time is charged to ``name`` on the calling thread's running clock."""
    clock: StageClock | None = getattr(_local, "clock", None)
    if clock is None:
        return _IDLE
    return _Stage(clock, name)


def _on_collection(phase: str, _info: dict[str, int]) -> None:
    """A pass of the cyclic collector runs on the thread that allocated: on a timed
    thread its time is a stage of its own, not the time of the stage it interrupted.
    Charged when the running block ends: the clock's lock may be held right now."""
    stack: list[_Stage] | None = getattr(_local, "stack", None)
    if not stack:
        return
    now = perf_counter()
    if phase == "start":
        _local.collecting = now
        return
    started = getattr(_local, "collecting", None)
    if started is None:
        return
    spent = now - started
    stack[-1].started += spent  # the interrupted stage was paused meanwhile
    seconds, calls = _local.collected
    _local.collecting, _local.collected = None, (seconds + spent, calls + 1)


gc.callbacks.append(_on_collection)
