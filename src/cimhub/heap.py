"""The process's heap and Python's cyclic garbage collector."""

from __future__ import annotations

import gc


def settle() -> None:
    """Call once a long-running process is wired: what start-up built (compiled schemas,
    the WSDL, the ORM's mappings, the web app — ~160 k objects) leaves the cyclic
    collector's sight.

    Those objects live as long as the process; without this, every full collection scans
    them all — 70–90 ms on this machine kind, every ~15 meter-month queries: the whole
    p99 of GetMeterReadings (BENCHMARKS.md, round 6). Objects made afterwards are
    collected as usual; reference counting still frees the frozen ones.
    """
    gc.collect()
    gc.freeze()
