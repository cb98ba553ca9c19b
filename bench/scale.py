"""Scale-out benchmark: `.venv/bin/python -m bench.scale`.

The same realistic quote stream through one shard worker, then through two
workers in one consumer group, each owning half of `shard.inputs`' partitions
→ `scale.two_workers_vs_one` (throughput ratio, same run, same broker); then the rebalance budget
(`bench.rebalance`: `scale.rebalance_pause_ms`, p99 over repeated joins and leaves of a worker).
"""

from __future__ import annotations

import argparse
import json

from bench.rebalance import RATE, bench_rebalance
from bench.shard import bench_throughput, merge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quotes", type=int, default=100_000)
    ap.add_argument("--cycles", type=int, default=5, help="joins and leaves for the rebalance budget")
    args = ap.parse_args()

    from bench.stack import kafka_bootstrap, log_dir
    from ops.topics import ensure_topics

    with kafka_bootstrap() as bootstrap:
        ensure_topics(bootstrap)
        one = bench_throughput(bootstrap, args.quotes, log_dir(), workers=1)["shard.quotes_per_s"]
        two = bench_throughput(bootstrap, args.quotes, log_dir(), workers=2)["shard.quotes_per_s"]
        rebalance = bench_rebalance(bootstrap, args.cycles, RATE, log_dir())
    results = {"scale.one_worker_quotes_per_s": one, "scale.two_workers_quotes_per_s": two,
               "scale.two_workers_vs_one": round(two / one, 3), **rebalance}
    print(json.dumps(results), flush=True)
    merge(results)


if __name__ == "__main__":
    main()
