"""The process's heap and Python's cyclic garbage collector."""

from __future__ import annotations

import gc

#: Net container allocations between two young collections (Python's default: 700).
#: A meter-month reply lives as ~6 k rows, tuples and lists for a few milliseconds: at
#: 700 it crossed ~9 young collections, whose survivors soon triggered a full one every
#: ~12 queries (~3.5 ms each: the queries' p95 and p99). At 10 000 (round 7) the same
#: query is freed by reference counting before any collection runs. Ingest's working
#: set is larger — a worker's batch of 64 one-meter messages holds ~6 k validated rows
#: and their columns, a 1 000×96 message ~100 k — and at 10 000 crossed young
#: collections of 4–10 ms each, every older-generation pass 40–65 ms (round 13: 2–5 %
#: of ingest); at 50 000 a batch is freed before any runs. Cycles still are collected,
#: a little later (50 000 objects are a few MB).
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Call once a long-running process is wired: what start-up built (compiled schemas,
    the WSDL, the ORM's mappings, the web app — ~160 k objects) leaves the cyclic
    collector's sight, and young collections wait for ``YOUNG_THRESHOLD`` allocations.

    Those objects live as long as the process; without this, every full collection scans
    them all — 70–90 ms on this machine kind, every ~15 meter-month queries: the whole
    p99 of GetMeterReadings (BENCHMARKS.md, round 6). Objects made afterwards are
    collected as usual; reference counting still frees the frozen ones.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
