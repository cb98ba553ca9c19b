"""Garbage-collector pauses on the decode path: `python -m bench.gc_pauses`.

A worker decodes quotes and keeps thousands alive (tables, buffers, batches). This
decodes 60,000 framed quotes of 80 depth levels (the recorded Polymarket CLOB book,
20 levels per ladder, shifted per quote) with a ring of the last 10,000 kept alive,
once with CPython's default collector settings and once tuned as the workers and
the sink tune it after start-up (streams/gc_tuning.py), each in a fresh process,
and reports the worst single decode and the longest collection, in CPU time of the
decoding thread (`time.thread_time`), so other load on a shared machine does not count:

- `gc.decode_worst_ms_default`, `gc.decode_worst_ms_tuned`: slowest decode (includes any collection it triggered);
- `gc.pause_max_ms_default`, `gc.pause_max_ms_tuned`: longest collection seen by `gc.callbacks`;
- `gc.decode_p99_us_default`, `gc.decode_p99_us_tuned`.

Keys merge into bench/results.json (read, update, write).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from bench.shard import merge, recorded_ladders, synth_ladder
from schemas.codec import default_codec
from schemas.enums import Venue
from schemas.records import Quote

ROOT = Path(__file__).resolve().parents[1]
ALIVE = 10_000
DECODES = 60_000


def framed_quotes(n: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    base = recorded_ladders()
    codec = default_codec()
    out = []
    for i in range(n):
        out.append(codec.encode(Quote(
            quote_id=f"gc:{i}", venue=Venue.POLYMARKET, market_id=f"m{i % 48}", ts=1_780_000_000_000 + i, seq=i,
            source="bench", yes_ask_depth=synth_ladder(rng, base["p_yes"], 20), no_ask_depth=synth_ladder(rng, base["p_no"], 20),
            yes_bid_depth=synth_ladder(rng, base["p_no"], 20), no_bid_depth=synth_ladder(rng, base["p_yes"], 20))))
    return out


def measure(mode: str) -> dict[str, float]:
    frames = framed_quotes(512)
    codec = default_codec()
    codec.decode(frames[0])
    if mode == "tuned":
        from streams.gc_tuning import tune_for_service

        tune_for_service()
    pauses: list[float] = []
    started = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            pauses.append(time.thread_time() - started[0])

    gc.callbacks.append(watch)
    ring: list[object] = [None] * ALIVE
    times = []
    try:
        for i in range(DECODES):
            t0 = time.thread_time()
            ring[i % ALIVE] = codec.decode(frames[i % len(frames)])
            times.append(time.thread_time() - t0)
    finally:
        gc.callbacks.remove(watch)
    times.sort()
    return {
        f"gc.decode_worst_ms_{mode}": round(times[-1] * 1e3, 2),
        f"gc.decode_p99_us_{mode}": round(times[int(len(times) * 0.99)] * 1e6, 1),
        f"gc.pause_max_ms_{mode}": round(max(pauses, default=0.0) * 1e3, 2),
        f"gc.collections_{mode}": len(pauses),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("default", "tuned"))
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode)))
        return
    results: dict[str, object] = {}
    for mode in ("default", "tuned"):
        out = subprocess.run([sys.executable, "-m", "bench.gc_pauses", "--mode", mode], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        results.update(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps(results), flush=True)
    merge(results)


if __name__ == "__main__":
    main()
