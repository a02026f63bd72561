"""Prometheus metrics of the bus: messages, retries, dead letters, queue depths, consumers,
and where handling messages spends its time (stages).

Each hub has its own registry (several hubs may live in one test process); queue depths
and consumer counts are read from the broker when scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from cimhub.stages import StageClock

log = logging.getLogger("cimhub.metrics")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "cimhub_messages",
            "Messages handled, by queue and result",
            ["queue", "result"],
            registry=self.registry,
        )
        self.retries = Counter(
            "cimhub_retries",
            "Retries after technical errors, by queue",
            ["queue"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "cimhub_dead_letters",
            "Messages dead-lettered, by queue",
            ["queue"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "cimhub_deliveries",
            "Outbound deliveries, by subscription and outcome",
            ["subscription", "outcome"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "cimhub_worker_batch_messages",
            "Messages per worker transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

    def watch(
        self, probe: Callable[[], dict[str, tuple[int, int]]], extra: Callable[[], dict[str, float]]
    ) -> None:
        """Read queue depths/consumers (and other gauges) from ``probe`` at scrape time."""
        self.registry.register(_Probe(probe, extra))

    def watch_stages(self, clock: StageClock) -> None:
        """Export the pipeline's stage totals (``cimhub.stages``) at scrape time."""
        self.registry.register(_Stages(clock))


class _Stages(Collector):
    def __init__(self, clock: StageClock) -> None:
        self._clock = clock

    def collect(self) -> Iterator[CounterMetricFamily]:
        seconds = CounterMetricFamily(
            "cimhub_stage_seconds",
            "Wall time handling messages, by stage; exclusive: an inner stage's time is "
            "not counted in the stage around it",
            labels=["stage"],
        )
        calls = CounterMetricFamily(
            "cimhub_stage_calls", "Times a stage of handling messages ran", labels=["stage"]
        )
        for name, (spent, count) in sorted(self._clock.totals().items()):
            seconds.add_metric([name], spent)
            calls.add_metric([name], count)
        yield seconds
        yield calls


class _Probe(Collector):
    def __init__(
        self, probe: Callable[[], dict[str, tuple[int, int]]], extra: Callable[[], dict[str, float]]
    ) -> None:
        self._probe = probe
        self._extra = extra

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "cimhub_queue_messages", "Messages ready in a queue", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "cimhub_queue_consumers", "Consumers of a queue", labels=["queue"]
        )
        up = GaugeMetricFamily("cimhub_broker_up", "1 when the broker answers")
        try:
            found = self._probe()
            up.add_metric([], 1)
        except Exception as exc:  # a scrape must not fail because the broker is away
            log.warning("queue depths unavailable: %s", exc)
            found = {}
            up.add_metric([], 0)
        for queue, (messages, count) in sorted(found.items()):
            depth.add_metric([queue], messages)
            consumers.add_metric([queue], count)
        yield depth
        yield consumers
        yield up
        try:
            extra = self._extra()
        except Exception:
            extra = {}
        for name, value in extra.items():
            gauge = GaugeMetricFamily(name, name.replace("_", " "))
            gauge.add_metric([], value)
            yield gauge
