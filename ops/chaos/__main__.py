"""`python -m ops.chaos` (`make chaos`): faults on the whole process set, then every invariant; exit 1 on any violation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.chaos.driver import REPO, ChaosRun, plan_from, write_results
from ops.chaos.faults import ChaosPlan


def main(argv: list[str] | None = None) -> int:
    d = ChaosPlan()
    ap = argparse.ArgumentParser(prog="python -m ops.chaos", description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=d.kills)
    ap.add_argument("--replay-kills", type=int, default=d.replay_kills)
    ap.add_argument("--broker-restarts", type=int, default=d.broker_restarts)
    ap.add_argument("--db-outage-s", type=float, default=d.db_outage_s)
    ap.add_argument("--latency-ms", type=float, default=d.latency_ms)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--payloads", type=int, default=0, help="play only the session's first N payloads (0: all)")
    ap.add_argument("--state-dir", type=Path, default=REPO / ".stack-chaos", help="the run's own stack folder")
    ap.add_argument("--keep", action="store_true", help="leave the stack and its folder for inspection")
    ap.add_argument("--results", type=Path, default=None, help="merge the chaos.* figures into this JSON file")
    args = ap.parse_args(argv)
    result = ChaosRun(plan_from(args), args.state_dir, payloads=args.payloads, keep=args.keep).run()
    print(result.report(), flush=True)
    if args.results is not None:
        write_results(args.results, result.figures())
        print(f"chaos: figures in {args.results}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
