"""Rebalance budget: how long a worker joining or leaving the shard group holds records up.

A steady paced stream of quotes (every one answered by a signal, as in the latency bench) runs
through one shard worker; a second worker of the same group is started, and once the group is
stable again with both owning partitions, stopped; repeated. For every join and leave, the pause
is the longest quote → signal time of the quotes sent from the change until the group is stable
again plus a margin: what a record waited for the rebalance (aiokafka's eager protocol stops the
whole group). `scale.rebalance_pause_ms` is the p99 over all joins and leaves.
`.venv/bin/python -m bench.rebalance` alone, or through `bench.scale`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.shard import merge, nth_quote, offsets, position_group, small_events, start_worker, stop_worker

RATE = 50  # quotes/s: far below one worker's capacity even on a loaded machine, so a pause is not a backlog
MARGIN_S = 2.0  # after the group is stable again, quotes still draining the backlog belong to the pause


def _owners(admin: Any, app_id: str) -> int | None:
    """Members owning shard.inputs partitions once the group is stable (None while it rebalances)."""
    group = admin.describe_consumer_groups([app_id])[app_id].result(timeout=10)
    if not str(group.state).endswith("STABLE"):
        return None
    return sum(1 for m in group.members if any(tp.topic == "shard.inputs" for tp in m.assignment.topic_partitions))


def _wait_owners(admin: Any, app_id: str, n: int, timeout_s: float = 180.0) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _owners(admin, app_id) == n:
            return time.perf_counter()
        time.sleep(0.1)
    raise RuntimeError(f"{app_id}: the group did not settle with {n} owners within {timeout_s:.0f}s")


def _locate(bootstrap: str, start: dict[int, int], ids: list[str]) -> dict[str, tuple[int, int]]:
    """Where lost quotes sit on shard.inputs (partition, offset): the failure names the records to look for in the logs."""
    from confluent_kafka import Consumer, TopicPartition

    from schemas.codec import default_codec

    codec, want, found = default_codec(), set(ids), {}
    end = offsets(bootstrap, "shard.inputs")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-locate-{uuid.uuid4().hex}", "log_level": 0})
    try:
        c.assign([TopicPartition("shard.inputs", p, o) for p, o in start.items() if end[p] > o])
        left = {p for p, o in start.items() if end[p] > o}
        deadline = time.monotonic() + 60
        while left and want - found.keys() and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            rec_id = getattr(codec.decode(msg.value()), "input_id", None)
            if rec_id in want:
                found[rec_id] = (msg.partition(), msg.offset())
            if msg.offset() + 1 >= end[msg.partition()]:
                left.discard(msg.partition())
    finally:
        c.close()
    return found


def bench_rebalance(bootstrap: str, cycles: int, rate: int, tmp: Path) -> dict[str, float]:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from connectors.publisher import Publisher
    from schemas.codec import default_codec

    run = uuid.uuid4().hex[:8]
    states, quotes = small_events(100, 4, run)
    app_id = f"bench-rebalance-{run}"
    start = offsets(bootstrap, "shard.inputs")
    position_group(bootstrap, app_id, "shard.inputs", start)
    sig_start = offsets(bootstrap, "signals")
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    base = start_worker(bootstrap, app_id, tmp / f"{app_id}-0.log")
    pub = Publisher(bootstrap, service="bench", **{"linger.ms": 0})
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{run}", "enable.auto.commit": False,
                     "fetch.wait.max.ms": 100, "log_level": 0})
    cons.assign([TopicPartition("signals", p, o) for p, o in sig_start.items()])
    codec = default_codec()
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    stop = threading.Event()

    def answer(msg: Any) -> None:
        if msg is not None and not msg.error():
            got.setdefault(codec.decode(msg.value()).trigger, time.perf_counter())

    def pace() -> None:
        t0, i = time.perf_counter(), 1
        while not stop.is_set():
            due = t0 + (i - 1) / rate
            while (now := time.perf_counter()) < due:
                answer(cons.poll(0))
                if due - now > 0.0005:
                    time.sleep(0.0005)
            rec = nth_quote(quotes, i)
            sent[rec.input_id] = time.perf_counter()
            pub.publish("shard.inputs", rec.event_id, rec)
            i += 1

    extra = None
    windows: list[tuple[str, float, float]] = []
    try:
        for r in states:
            pub.publish("shard.inputs", r.event_id, r)
        warm = nth_quote(quotes, 0)
        pub.publish("shard.inputs", warm.event_id, replace(warm, input_id="warm"))
        pub.flush()
        deadline = time.monotonic() + 180
        while "warm" not in got:
            if time.monotonic() > deadline:
                raise RuntimeError("worker never answered: " + (tmp / f"{app_id}-0.log").read_text()[-2000:])
            answer(cons.poll(0.2))
        _wait_owners(admin, app_id, 1)
        pacer = threading.Thread(target=pace, name="bench-pacer", daemon=True)
        pacer.start()
        time.sleep(3.0)  # steady state before the first change
        for c in range(cycles):
            extra = start_worker(bootstrap, app_id, tmp / f"{app_id}-{c + 1}.log")
            began = time.perf_counter()  # the newcomer boots first; its JoinGroup starts the pause
            windows.append(("join", began, _wait_owners(admin, app_id, 2) + MARGIN_S))
            time.sleep(3.0)
            began = time.perf_counter()
            stop_worker(extra)
            extra = None
            windows.append(("leave", began, _wait_owners(admin, app_id, 1) + MARGIN_S))
            time.sleep(3.0)
        stop.set()
        pacer.join(timeout=10)
        pub.flush(30)
        deadline = time.monotonic() + 180  # a backlog built up during the pauses drains first
        while len(got.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            answer(cons.poll(0.05))
    finally:
        stop.set()
        cons.close()
        if extra is not None:
            stop_worker(extra)
        stop_worker(base)
    crashes = sum(log.read_text(errors="replace").count("Crashed reason=") for log in tmp.glob(f"{app_id}-*.log"))
    lost = [k for k in sent if k not in got]
    if lost or crashes:
        located = _locate(bootstrap, start, lost[:5])
        where = [(k, round(sent[k] - windows[0][1], 2), located.get(k)) for k in lost[:5]]
        raise RuntimeError(f"{len(lost)} of {len(sent)} quotes never answered ({where}: id, seconds after the first "
                           f"change, (partition, offset); changes at {[(kind, round(a - windows[0][1], 2)) for kind, a, _ in windows]}), "
                           f"{crashes} agent crashes across the rebalances (worker logs: {tmp}/{app_id}-*.log)")
    latency = {k: (got[k] - sent[k]) * 1000 for k in sent}
    pauses = {"join": [], "leave": []}  # type: dict[str, list[float]]
    for kind, a, b in windows:
        inside = [latency[k] for k, t in sent.items() if a <= t <= b]
        pauses[kind].append(max(inside) if inside else 0.0)
    steady = [v for k, v in latency.items() if not any(a - 1 <= sent[k] <= b for _, a, b in windows)]
    every = pauses["join"] + pauses["leave"]
    return {
        "scale.rebalance_pause_ms": round(float(np.percentile(every, 99)), 1),
        "scale.rebalance_pause_join_max_ms": round(max(pauses["join"]), 1),
        "scale.rebalance_pause_leave_max_ms": round(max(pauses["leave"]), 1),
        "scale.rebalance_changes": len(every),
        "scale.rebalance_steady_p99_ms": round(float(np.percentile(steady, 99)), 1) if steady else 0.0,
        "scale.rebalance_quotes": len(sent),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=5, help="joins and leaves of a second worker")
    ap.add_argument("--rate", type=int, default=RATE, help="quotes per second during the changes")
    args = ap.parse_args()

    from bench.stack import kafka_bootstrap, log_dir
    from ops.topics import ensure_topics

    with kafka_bootstrap() as bootstrap:
        ensure_topics(bootstrap)
        results = bench_rebalance(bootstrap, args.cycles, args.rate, log_dir())
    print(json.dumps(results), flush=True)
    merge(results)


if __name__ == "__main__":
    main()
