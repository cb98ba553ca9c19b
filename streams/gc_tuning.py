"""Garbage-collector settings for the long-running processes (Faust workers, the sink).

A decoded quote holds dozens of objects the collector tracks, and a worker keeps
thousands of them alive in its tables and buffers; CPython's default thresholds
(700, 10, 10) then run full collections that walk all of them, and those pauses
are most of the signal latency tail (issue 13: a full collection with 10,000 such
records alive took 202 ms). After start-up, everything imported and built so far
(modules, schemas, compiled converters, model tables) lives as long as the
process: `gc.freeze()` moves it out of every future collection. Higher thresholds
then make young collections rarer and older ones rarer still; reference counting
frees almost everything anyway, the collector only exists for cycles.
`bench/gc.py` measures the pause with and without.
"""

from __future__ import annotations

import gc

#: Young collections every 50,000 net allocations (default 700); middle and full ones 20 and 100 times rarer.
THRESHOLDS = (50_000, 20, 100)


def tune_for_service(thresholds: tuple[int, int, int] = THRESHOLDS) -> int:
    """Collect once, freeze what survived start-up and raise the thresholds; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return gc.get_freeze_count()
