"""The embedded dispatchers: messages handled in-process, without a broker.

``DirectDispatcher`` handles in the calling thread; ``BoundedDispatcher`` (what `cimhub
serve` uses without a broker) on handler threads, the caller waiting at most
``reply_wait_seconds``.

**Group commit.** Every request (HTTP, SOAP, MQTT) is handled on a thread of its own, and
a commit costs milliseconds (an fsync on SQLite, which has one writer anyway). Messages a
``Group`` handler takes (MeterReadings ingest) queue here instead: the first thread to
find no batch in flight takes what is queued (up to ``limit``), handles it with
``Pipeline.handle_together`` — one transaction, each message its own result — and hands
every waiting thread its own; the next waiting thread then leads the next batch. A lone
message is handled at once, as before: nothing ever waits for a batch to fill.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cimhub.errors import TechnicalError

if TYPE_CHECKING:
    from cimhub.bus.pipeline import Accepted, Answer, Pipeline

log = logging.getLogger("cimhub.pipeline")


@dataclass(slots=True, eq=False)
class _Slot:
    accepted: Accepted
    result: Answer | BaseException | None = None
    done: bool = False


class DirectDispatcher:
    """The embedded default: handle in the calling thread, in-process."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        # concurrent callers' MeterReadings share transactions (see GroupCommit below)
        settings = pipeline.settings
        self.commits = GroupCommit(
            pipeline, settings.worker_batch_messages, settings.worker_batch_bytes
        )

    def submit(self, accepted: Accepted) -> Answer:
        envelope = accepted.envelope
        if self.pipeline.registry.group(envelope.noun, envelope.verb) is not None:
            answer = self.commits.handle(accepted)
        else:
            answer = self.pipeline.handle(accepted)
        if accepted.wants_async_reply:  # the full reply waits in the outbox for delivery
            return self.pipeline.acknowledgement(accepted)
        return answer


class BoundedDispatcher(DirectDispatcher):
    """In-process, as `cimhub serve` does it without a broker: the caller waits at most
    ``wait_seconds`` (then 0.3, as with workers on a broker); the message is handled to
    the end regardless, and a repeat of it gets its reply from the message log."""

    def __init__(self, pipeline: Pipeline, wait_seconds: float, threads: int = 32) -> None:
        super().__init__(pipeline)
        self.wait_seconds = wait_seconds
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="cimhub-handler")

    def submit(self, accepted: Accepted) -> Answer:
        running = self._pool.submit(super().submit, accepted)
        try:
            return running.result(timeout=self.wait_seconds)
        except TimeoutError:
            log.warning(
                "%s %s not handled within %.1f s: answered 0.3, still running",
                accepted.envelope.verb.value, accepted.envelope.noun, self.wait_seconds,
            )  # fmt: skip
            return self.pipeline.acknowledgement(
                accepted,
                "accepted and still being processed; send the same message again "
                "(same MessageID) to get its reply",
            )

    def close(self) -> None:
        self._pool.shutdown(wait=True)  # handlers still running finish their transaction


class GroupCommit:
    def __init__(self, pipeline: Pipeline, limit: int, limit_bytes: int) -> None:
        self._pipeline = pipeline
        self._limit = limit
        self._limit_bytes = limit_bytes
        self._turn = threading.Condition()
        self._queue: list[_Slot] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """Messages queued for the next batch."""
        with self._turn:
            return len(self._queue)

    def handle(self, accepted: Accepted) -> Answer:
        """This message's Answer, handled in a batch with whatever else is queued; raises
        the error it failed with, as ``Pipeline.handle`` would."""
        slot = _Slot(accepted)
        with self._turn:
            self._queue.append(slot)
            while not slot.done:
                if self._leading:
                    self._turn.wait()
                else:
                    self._lead()
        if isinstance(slot.result, BaseException):
            raise slot.result
        assert slot.result is not None
        return slot.result

    def _lead(self) -> None:
        """Handle the queue's head as one batch (called holding the lock; releases it
        while the batch is handled)."""
        self._leading = True
        size, total = 0, 0
        for slot in self._queue[: self._limit]:  # the head, within both limits (one at least)
            total += len(slot.accepted.inbound.raw)
            if size and total > self._limit_bytes:
                break
            size += 1
        batch, self._queue = self._queue[:size], self._queue[size:]
        results: list[Answer | BaseException] = [TechnicalError("not handled")] * len(batch)
        self._turn.release()
        try:
            results = list(self._pipeline.handle_together([s.accepted for s in batch]))
        except Exception as exc:  # the store is down, say: every message of it learns so
            results = [exc] * len(batch)
        finally:
            self._turn.acquire()
            for slot, result in zip(batch, results, strict=True):
                slot.result, slot.done = result, True
            self._leading = False
            self._turn.notify_all()
