"""Scale-out benchmark: `.venv/bin/python -m bench.scale`.

The same realistic quote stream through one shard worker, then through two
workers in one consumer group, each owning half of `shard.inputs`' partitions
→ `scale.two_workers_vs_one` (throughput ratio, same run, same broker).
"""

from __future__ import annotations

import argparse
import json

from bench.shard import bench_throughput, merge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quotes", type=int, default=100_000)
    args = ap.parse_args()

    from bench.stack import kafka_bootstrap, log_dir
    from ops.topics import ensure_topics

    with kafka_bootstrap() as bootstrap:
        ensure_topics(bootstrap)
        one = bench_throughput(bootstrap, args.quotes, log_dir(), workers=1)["shard.quotes_per_s"]
        two = bench_throughput(bootstrap, args.quotes, log_dir(), workers=2)["shard.quotes_per_s"]
    results = {"scale.one_worker_quotes_per_s": one, "scale.two_workers_quotes_per_s": two,
               "scale.two_workers_vs_one": round(two / one, 3)}
    print(json.dumps(results), flush=True)
    merge(results)


if __name__ == "__main__":
    main()
