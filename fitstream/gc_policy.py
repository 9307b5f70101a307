"""How a long-running stream process sets CPython's cyclic garbage collector.

The processor and the sinks allocate a dozen short-lived dicts per record (decoded
events, samples, outputs) that never form reference cycles; reference counting frees
them. With the default gen-0 threshold (700 allocations) the collector ran every few
records, and every 100th run traversed the whole heap, modules and all: 9% of the
processor's CPU (docs/speed-profile.md). Freezing what start-up built takes it out of
every later collection, and a higher threshold collects the young less often.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000
"""Container allocations between young collections (CPython's default: 700)."""


def settle_after_start() -> None:
    """Call once the process has built its long-lived objects (app, clients, schemas):
    they move to the permanent generation, and young collections get rarer."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
