"""`make bench`: run every benchmark that exists, then stamp the machine and time.

Each benchmark is its own module (`python -m bench.<name>`) that merges its keys
into bench/results.json; running them as separate processes keeps one's memory
and threads from skewing the next.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.json"
ORDER = ("shard", "sink", "backtest", "scale", "gc_pauses", "writes", "models")


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {cpu}, {platform.system()} {platform.release()}"


def main() -> int:
    present = [name for name in ORDER if (BENCH / f"{name}.py").exists()]
    failed: list[str] = []
    for name in present:
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=BENCH.parent)
        print(f"== bench.{name}: exit {rc} after {time.monotonic() - started:.0f}s", flush=True)
        if rc != 0:
            failed.append(name)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    results["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    keys = {k: v for k, v in results.items() if k not in ("machine", "when")}
    summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(keys.items())
                        if k.startswith(("shard.", "sink.", "backtest.", "scale.", "gc.", "writes.")))
    print(f"bench: {len(keys)} figures in {RESULTS.name} on {results['machine']}: {summary}")
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
