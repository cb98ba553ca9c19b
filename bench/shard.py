"""Shard benchmarks: `.venv/bin/python -m bench.shard [--skip-broker]`.

(a) vectorized vs scalar edge computation: 1,000 concurrent events of 50 markets
    (25 Kalshi, 25 Polymarket, books derived from the recorded venue books), every
    market and side priced plus every cross-venue pair → `shard.vectorized_speedup`;
    also processor throughput on a stream of quotes over those events
    (`shard.processor_quotes_per_s`, `..._scalar`).
(b) quote produced → signal consumed from `signals`, real broker + real worker, at
    1,000 quotes/s → `shard.signal_latency_p50_ms`, `shard.signal_latency_p99_ms`.
(c) worker throughput, quotes/s through the real broker → `shard.quotes_per_s`.

Keys merge into bench/results.json (read, update, write).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from schemas.enums import EventStatus, MarketType, Venue
from schemas import depth as packed_depth
from schemas.records import EventState, MarketLink, MarketListing, Quote, ShardInput, Signal
from streams.shard.arbitrage import arbitrage
from streams.shard.config import ShardConfig
from streams.shard.edges import model_edges
from streams.shard.edges import LadderRows
from streams.probability.registry import model_for
from streams.shard.processor import ShardProcessor, registry_lookup
from streams.shard.scalar_reference import arbitrage_rows, model_edges_rows
from streams.shard.state import NO, YES, ShardState

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
FIX = ROOT / "tests" / "fixtures" / "shard"
T0 = 1_765_134_000_000
WARMUP_S = 3.0  # seconds of paced quotes before the latency clock starts
SETTLE = T0 + 8 * 3600 * 1000


def _dollars(s: str) -> int:
    whole, _, frac = s.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def recorded_ladders() -> dict[str, list[tuple[int, float]]]:
    """Ask ladders from the recorded books (Kalshi orderbook fixture, Polymarket CLOB book)."""
    ob = json.loads((FIX / "orderbook_handwritten_fixture.json").read_text())["orderbook_fp"]
    pm = json.loads((FIX / "clob_book_2026-01-04.json").read_text())
    return {
        "k_yes": sorted((1_000_000 - _dollars(p), float(c)) for p, c in ob["no_dollars"]),
        "k_no": sorted((1_000_000 - _dollars(p), float(c)) for p, c in ob["yes_dollars"]),
        "p_yes": sorted((_dollars(a["price"]), float(a["size"])) for a in pm["asks"]),
        "p_no": sorted((1_000_000 - _dollars(b["price"]), float(b["size"])) for b in pm["bids"]),
    }


def synth_ladder(rng: random.Random, base: list[tuple[int, float]], depth: int) -> bytes:
    """A recorded ladder shifted by a few ticks, sizes rescaled, cut to `depth` levels (packed)."""
    shift = rng.randint(-6, 6) * 10_000
    scale = rng.uniform(0.2, 3.0)
    out = []
    for p, c in base[:depth]:
        q = p + shift
        if 0 < q < 1_000_000:
            out.append((q, round(max(c * scale, 1.0), 2)))
    return packed_depth.pack_levels(out)


TICK = 10_000


def fair_ladders(rng: random.Random, p_yes: float, sizes: list[float], depth: int) -> tuple[bytes, bytes]:
    """YES and NO ask ladders of a market quoted near a fair price, as liquid venues quote.

    The mid sits within a couple of cents of the fair probability, the spread is one
    to three ticks, NO asks mirror YES bids (NO ask = 1 - YES bid), and level sizes
    follow a recorded book's size profile; so model edges and cross-venue arbitrage
    appear only where the noise makes them, as in real markets.
    """
    mid = min(0.97, max(0.03, p_yes + rng.gauss(0.0, 0.015)))
    half = rng.choice((1, 1, 2, 3)) * TICK / 2
    best_ask = min(990_000, max(TICK, int(-(-(mid * 1e6 + half) // TICK)) * TICK))
    best_bid = max(TICK, min(best_ask - TICK, int((mid * 1e6 - half) // TICK) * TICK))
    scale = rng.uniform(0.2, 3.0)
    yes_asks = [(best_ask + i * TICK, round(max(sizes[i % len(sizes)] * scale, 1.0), 2))
                for i in range(depth) if best_ask + i * TICK < 1_000_000]
    yes_bids = [(best_bid - i * TICK, round(max(sizes[(i + 3) % len(sizes)] * scale, 1.0), 2))
                for i in range(depth) if best_bid - i * TICK > 0]
    no_asks = [(1_000_000 - b, c) for b, c in yes_bids]
    return packed_depth.pack_levels(yes_asks), packed_depth.pack_levels(no_asks)


def make_event(rng: random.Random, e: int, markets: int, ladders: dict[str, list[tuple[int, float]]], depth: int,
               realistic: bool = False) -> tuple[EventState, list[ShardInput]]:
    eid = f"bench:nfl:{e}"
    st = EventState(
        state_id=f"{eid}@0", event_id=eid, ts=T0, source="bench", market_type=MarketType.SPORT, league="nfl",
        status=EventStatus.LIVE, entity_a="H", entity_b="A", score_a=rng.randint(0, 28), score_b=rng.randint(0, 28),
        period=rng.randint(1, 4), clock_seconds=float(rng.randint(0, 900)), spread_a=rng.uniform(-7, 7),
    )
    quotes = []
    fair = model_for(MarketType.SPORT, "nfl").probabilities(st) if realistic else {}
    sizes = {k[0]: [c for _, c in v] for k, v in ladders.items() if k.endswith("_yes")}
    for m in range(markets):
        venue = Venue.KALSHI if m % 2 == 0 else Venue.POLYMARKET
        role = "a" if (m // 2) % 2 == 0 else "b"
        mid = f"{eid}:{m}"
        pre = "k" if venue is Venue.KALSHI else "p"
        lst = MarketListing(
            listing_id=f"{venue.value}:{mid}", venue=venue, market_id=mid, ts=T0, market_type=MarketType.SPORT,
            league="nfl", taker_fee_rate=0.07 if venue is Venue.KALSHI else 0.03, settle_ts=SETTLE if m % 3 else SETTLE + 3_600_000,
            resolution_source="NFL official result",
        )
        lnk = MarketLink(link_id=lst.listing_id, venue=venue, market_id=mid, event_id=eid, ts=T0, yes_role=role, confidence=1.0)
        if realistic:
            p_role = fair[role]
            yes, no = fair_ladders(rng, p_role, sizes[pre], depth)
        else:
            yes, no = synth_ladder(rng, ladders[f"{pre}_yes"], depth), synth_ladder(rng, ladders[f"{pre}_no"], depth)
        q = Quote(quote_id=f"q:{mid}:0", venue=venue, market_id=mid, ts=T0 + 1, yes_ask_depth=yes, no_ask_depth=no)
        quotes.append(ShardInput(input_id=f"in:{mid}:0", event_id=eid, ts=T0 + 1, quote=q, link=lnk, listing=lst))
    return st, quotes


def build_states(events: int, markets: int, depth: int, seed: int = 7, realistic: bool = False) -> tuple[dict[str, ShardState], list[list[ShardInput]]]:
    rng = random.Random(seed)
    ladders = recorded_ladders()
    proc = ShardProcessor(ShardConfig(), lookup=registry_lookup)
    states: dict[str, ShardState] = {}
    per_event_quotes = []
    for e in range(events):
        st_rec, quotes = make_event(rng, e, markets, ladders, depth, realistic)
        recs = [ShardInput(input_id=f"st:{e}", event_id=st_rec.event_id, ts=T0, state=st_rec), *quotes]
        states.update(proc.step_batch({}, recs)[0])
        per_event_quotes.append(quotes)
    return states, per_event_quotes


def _stack(blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> LadderRows:
    width = max(b[0].shape[1] for b in blocks)
    pad = (lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1]))))
    return LadderRows(*(np.concatenate([pad(b[0]) for b in blocks]), np.concatenate([pad(b[1]) for b in blocks]),
                        *(np.concatenate([b[i] for b in blocks]) for i in (2, 3, 4))))


def full_event_rows(states: dict[str, ShardState]) -> tuple[LadderRows, np.ndarray, LadderRows, LadderRows]:
    """Every market and side of every event, and every cross-venue pair: what a state change prices."""
    edge, p_all, yes, no = [], [], [], []
    for s in states.values():
        b = s.books
        m = np.repeat(np.arange(len(b.keys)), 2)
        side = np.tile(np.array([YES, NO]), len(b.keys))
        p_yes = np.array([s.probs[r] for r in b.roles])  # type: ignore[index]
        edge.append((b.p4[m, side], b.c100[m, side], b.venue[m], b.rate_ppm[m], b.exponent[m]))
        p_all.append(np.stack([p_yes, 1 - p_yes], 1).reshape(-1))
        y, n = b.pair_yes, b.pair_no
        yes.append((b.p4[y, YES], b.c100[y, YES], b.venue[y], b.rate_ppm[y], b.exponent[y]))
        no.append((b.p4[n, NO], b.c100[n, NO], b.venue[n], b.rate_ppm[n], b.exponent[n]))
    return _stack(edge), np.concatenate(p_all), _stack(yes), _stack(no)


def bench_speedup(states: dict[str, ShardState]) -> dict[str, float]:
    """Full-event pricing (every market, both sides, every pair) per event, vectorized vs scalar."""
    cfg = ShardConfig()
    rows, p, y, n = full_event_rows(states)

    def run(edge_fn, arb_fn):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = edge_fn(rows, p, cfg.min_edge), arb_fn(y, n, cfg.min_arb_profit_micros)
        return time.perf_counter() - t, out

    run(model_edges, arbitrage)  # warm
    timed = [run(model_edges, arbitrage) for _ in range(3)]
    vec, v_out = min(timed, key=lambda x: x[0])
    sca, s_out = run(model_edges_rows, arbitrage_rows)
    for a, b in zip(v_out, s_out):  # the speedup only counts if both computed the same thing
        for name in a.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    events = len(states)
    return {
        "shard.vectorized_speedup": round(sca / vec, 2),
        "shard.vectorized_events_per_s": round(events / vec, 1),
        "shard.scalar_events_per_s": round(events / sca, 1),
        "shard.bench_rows_per_event": rows.rows / events,
        "shard.bench_pairs_per_event": y.rows / events,
    }


def quote_stream(per_event_quotes: list[list[ShardInput]], n: int, seed: int = 11) -> list[ShardInput]:
    """Fresh quotes on random markets of random events, event time advancing 1 ms per quote."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = rng.choice(rng.choice(per_event_quotes))
        q = base.quote
        assert q is not None
        ts = T0 + 2 + i
        nq = replace(q, quote_id=f"q:{q.market_id}:{i}", ts=ts, seq=i)
        # as the router sends them: the listing went with the market's first input, quotes carry the link only
        out.append(replace(base, input_id=f"in:{q.market_id}:{i}", ts=ts, quote=nq, listing=None))
    return out


def fair_quote_stream(per_event_quotes: list[list[ShardInput]], states: dict[str, ShardState], n: int,
                      depth: int, seed: int = 11) -> list[ShardInput]:
    """Fresh quotes on random markets of random events, re-quoted near the fair price each time."""
    rng = random.Random(seed)
    ladders = recorded_ladders()
    sizes = {k[0]: [c for _, c in v] for k, v in ladders.items() if k.endswith("_yes")}
    out = []
    for i in range(n):
        base = rng.choice(rng.choice(per_event_quotes))
        q, link = base.quote, base.link
        assert q is not None and link is not None
        p_role = states[base.event_id].probs[link.yes_role]  # type: ignore[index]
        yes, no = fair_ladders(rng, p_role, sizes["k" if q.venue is Venue.KALSHI else "p"], depth)
        ts = T0 + 2 + i
        nq = replace(q, quote_id=f"q:{q.market_id}:{i}", ts=ts, seq=i, yes_ask_depth=yes, no_ask_depth=no)
        out.append(replace(base, input_id=f"in:{q.market_id}:{i}", ts=ts, quote=nq, listing=None))
    return out


def signals_per_quote(states: dict[str, ShardState], stream: list[ShardInput]) -> float:
    proc = ShardProcessor(ShardConfig(stale_state_ms=10**9), lookup=registry_lookup)
    _, outs = proc.step_batch(dict(states), stream)
    return sum(1 for o in outs for r in o if isinstance(r, Signal)) / len(stream)


def bench_processor(states: dict[str, ShardState], stream: list[ShardInput], batch: int = 500) -> dict[str, float]:
    res = {}
    for name, proc in (
        ("vectorized", ShardProcessor(ShardConfig(stale_state_ms=10**9), lookup=registry_lookup)),
        ("scalar", ShardProcessor(ShardConfig(stale_state_ms=10**9), lookup=registry_lookup, evaluate=model_edges_rows, evaluate_arbs=arbitrage_rows)),
    ):
        cur = dict(states)
        t = time.perf_counter()
        for i in range(0, len(stream), batch):
            cur, _ = proc.step_batch(cur, stream[i : i + batch])
        res[name] = len(stream) / (time.perf_counter() - t)
    return {
        "shard.processor_quotes_per_s": round(res["vectorized"], 1),
        "shard.processor_quotes_per_s_scalar": round(res["scalar"], 1),
    }


# ----------------------------------------------------------------- broker parts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(bootstrap: str, app_id: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "ARBEES_APP_ID": app_id, "ARBEES_AGENTS": "shard", "ARBEES_WEB_PORT": str(_free_port())}
    return subprocess.Popen(
        [sys.executable, "-m", "faust", "-A", "streams.app", "worker", "-l", "info", "--without-web"],
        cwd=log.parent, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_worker(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from schemas.topics import spec

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        for _ in range(60):
            try:
                return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(spec(topic).partitions)}
            except KafkaException:
                time.sleep(0.5)
        raise RuntimeError(f"no leaders for {topic}")
    finally:
        c.close()


def position_group(bootstrap: str, group: str, topic: str, offs: dict[int, int]) -> None:
    from confluent_kafka import TopicPartition

    from ops.kafka.groups import commit_offsets

    commit_offsets(bootstrap, group, [TopicPartition(topic, p, o) for p, o in offs.items()])


def small_events(n_events: int, markets: int, run: str) -> tuple[list[ShardInput], list[list[ShardInput]]]:
    """Events whose every quote yields a model-edge signal (YES(a) at the recorded 0.44 with p_a ≈ 0.8)."""
    ladders = recorded_ladders()
    states, quotes = [], []
    for e in range(n_events):
        eid = f"bench:{run}:{e}"
        st = EventState(
            state_id=f"{eid}@0", event_id=eid, ts=T0, source="bench", market_type=MarketType.SPORT, league="nfl",
            status=EventStatus.LIVE, entity_a="H", entity_b="A", score_a=14, score_b=0, period=2, clock_seconds=105.0,
        )
        states.append(ShardInput(input_id=f"st:{eid}", event_id=eid, ts=T0, state=st))
        qs = []
        for m in range(markets):
            venue = Venue.KALSHI if m % 2 == 0 else Venue.POLYMARKET
            mid = f"{eid}:{m}"
            pre = "k" if venue is Venue.KALSHI else "p"
            lst = MarketListing(
                listing_id=f"{venue.value}:{mid}", venue=venue, market_id=mid, ts=T0,
                taker_fee_rate=0.07 if venue is Venue.KALSHI else 0.03, settle_ts=SETTLE, resolution_source=f"src-{m}",
            )
            lnk = MarketLink(link_id=lst.listing_id, venue=venue, market_id=mid, event_id=eid, ts=T0, yes_role="a")
            q = Quote(
                quote_id="", venue=venue, market_id=mid, ts=T0,
                yes_ask_depth=packed_depth.pack_levels(ladders[f"{pre}_yes"][:10]),
                no_ask_depth=packed_depth.pack_levels(ladders[f"{pre}_no"][:10]),
            )
            qs.append(ShardInput(input_id="", event_id=eid, ts=T0, quote=q, link=lnk, listing=lst))
        quotes.append(qs)
    return states, quotes


def nth_quote(quotes: list[list[ShardInput]], i: int) -> ShardInput:
    base = quotes[i % len(quotes)][(i // len(quotes)) % len(quotes[0])]
    ts = T0 + 1 + i // 100  # event time advances; stays well inside the stale windows
    q = replace(base.quote, quote_id=f"q:{base.quote.market_id}:{i}", ts=ts, seq=i)  # type: ignore[arg-type]
    return replace(base, input_id=f"in:{i}", ts=ts, quote=q)


def bench_latency(bootstrap: str, seconds: float, rate: int, tmp: Path) -> dict[str, float]:
    from confluent_kafka import Consumer, TopicPartition

    from connectors.publisher import Publisher
    from schemas.codec import default_codec

    run = uuid.uuid4().hex[:8]
    states, quotes = small_events(100, 4, run)
    app_id = f"bench-lat-{run}"
    position_group(bootstrap, app_id, "shard.inputs", offsets(bootstrap, "shard.inputs"))
    sig_start = offsets(bootstrap, "signals")
    worker = start_worker(bootstrap, app_id, tmp / f"{app_id}.log")
    pub = Publisher(bootstrap, service="bench", **{"linger.ms": 0})
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{run}", "enable.auto.commit": False, "fetch.wait.max.ms": 100})
    cons.assign([TopicPartition("signals", p, o) for p, o in sig_start.items()])
    codec = default_codec()
    try:
        for r in states:
            pub.publish("shard.inputs", r.event_id, r)
        pub.flush()
        # warm-up: wait for the worker to answer one quote before timing
        warm = nth_quote(quotes, 0)
        pub.publish("shard.inputs", warm.event_id, replace(warm, input_id="warm"))
        pub.flush()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            msg = cons.poll(0.2)
            if msg is not None and not msg.error() and codec.decode(msg.value()).trigger == "warm":
                break
        else:
            raise RuntimeError("worker never answered: " + (tmp / f"{app_id}.log").read_text()[-2000:])
        sent: dict[str, float] = {}
        got: dict[str, float] = {}

        def answer(msg: Any) -> None:
            if msg is not None and not msg.error():
                got.setdefault(codec.decode(msg.value()).trigger, time.perf_counter())

        def paced(first: int, n: int) -> None:
            t_start = time.perf_counter()
            for i in range(first, first + n):
                due = t_start + (i - first) / rate
                while (now := time.perf_counter()) < due:
                    answer(cons.poll(0))
                    if due - now > 0.0005:
                        time.sleep(0.0005)
                rec = nth_quote(quotes, i)
                sent[rec.input_id] = time.perf_counter()
                pub.publish("shard.inputs", rec.event_id, rec)

        # warm-up at the measured rate: the worker's first pass over each event (snapshot, model and
        # fee caches, numpy paths) is a start-up cost, not the steady latency this figure is about
        warmup = int(WARMUP_S * rate)
        paced(1, warmup)
        sent.clear()
        paced(1 + warmup, int(seconds * rate))
        deadline = time.monotonic() + 30
        while len(got.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            answer(cons.poll(0.05))
        lat = np.array([(got[k] - sent[k]) * 1000 for k in sent if k in got])
        return {
            "shard.signal_latency_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "shard.signal_latency_p99_ms": round(float(np.percentile(lat, 99)), 2),
            "shard.signal_latency_quotes": len(sent),
            "shard.signal_latency_answered": len(lat),
        }
    finally:
        cons.close()
        stop_worker(worker)


def throughput_records(n: int, events: int = 1000, markets: int = 4, depth: int = 10) -> list[ShardInput]:
    """Event states, then `n` quotes re-quoted near fair value on random markets (the realistic stream)."""
    states, per_event = build_states(events, markets, depth, seed=23, realistic=True)
    firsts = [ShardInput(input_id=f"st:{eid}", event_id=eid, ts=T0, state=s.state) for eid, s in states.items()]
    return [*firsts, *(q for qs in per_event for q in qs), *fair_quote_stream(per_event, states, n, depth, seed=29)]


def bench_throughput(bootstrap: str, n: int, tmp: Path, workers: int = 1) -> dict[str, float]:
    """Quotes/s through `workers` shard workers in one consumer group, from the moment all of them hold partitions."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    from connectors.publisher import Publisher

    run = uuid.uuid4().hex[:8]
    records = throughput_records(n)
    start = offsets(bootstrap, "shard.inputs")
    pub = Publisher(bootstrap, service="bench")
    for rec in records:
        pub.publish("shard.inputs", rec.event_id, rec)
    pub.flush(120)
    end = offsets(bootstrap, "shard.inputs")
    total = sum(end.values()) - sum(start.values())
    app_id = f"bench-tp{workers}-{run}"
    position_group(bootstrap, app_id, "shard.inputs", start)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    procs = [start_worker(bootstrap, app_id, tmp / f"{app_id}-{i}.log") for i in range(workers)]

    def committed() -> int:
        fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(app_id, [TopicPartition("shard.inputs", p) for p in start])])
        res = fut[app_id].result(timeout=10)
        return sum(max(tp.offset, 0) - start[tp.partition] for tp in res.topic_partitions)

    def all_assigned() -> bool:
        group = admin.describe_consumer_groups([app_id])[app_id].result(timeout=10)
        owners = [m for m in group.members if any(tp.topic == "shard.inputs" for tp in m.assignment.topic_partitions)]
        return str(group.state).endswith("STABLE") and len(owners) == workers

    try:
        first_t = first_done = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = committed()
            now = time.perf_counter()
            if first_t is None and done > 0 and all_assigned():
                first_t, first_done = now, done
            if done >= total:
                break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"workers did not finish: {committed()} of {total}")
        if first_t is None or total - first_done < total // 2:
            raise RuntimeError(f"the group settled too late to measure: {first_done} of {total} already done")
        return {"shard.quotes_per_s": round((total - first_done) / (time.perf_counter() - first_t), 1), "shard.throughput_records": total}
    finally:
        for p in procs:
            stop_worker(p)


def machine() -> dict[str, object]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    return {"cores": os.cpu_count(), "memory_mb": mem, "cpu": cpu, "python": platform.python_version()}


def merge(results: dict[str, object]) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(results)
    data["machine"] = machine()
    data["when"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--markets", type=int, default=50)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--skip-broker", action="store_true")
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--throughput-quotes", type=int, default=100_000)
    args = ap.parse_args()

    results: dict[str, object] = {}
    # headline: markets quoted near fair value, as real venues quote them
    states, per_event = build_states(args.events, args.markets, args.depth, realistic=True)
    results.update(bench_speedup(states))
    stream = fair_quote_stream(per_event, states, 20_000, args.depth)
    results.update(bench_processor(states, stream))
    results["shard.signals_per_quote"] = round(signals_per_quote(states, stream[:5_000]), 4)
    print(json.dumps(results), flush=True)
    # stress: independent recorded ladders shifted at random, so most quotes make signals
    s_states, s_per_event = build_states(args.events, args.markets, args.depth)
    stress_stream = quote_stream(s_per_event, 5_000)
    stress = bench_processor(s_states, stress_stream)
    results["shard.stress_processor_quotes_per_s"] = stress["shard.processor_quotes_per_s"]
    results["shard.stress_signals_per_quote"] = round(signals_per_quote(s_states, stress_stream), 4)
    results["shard.stress_vectorized_speedup"] = bench_speedup(s_states)["shard.vectorized_speedup"]
    print(json.dumps(results), flush=True)
    merge(results)
    if args.skip_broker:
        return

    from bench.stack import kafka_bootstrap, log_dir
    from ops.topics import ensure_topics

    with kafka_bootstrap() as bootstrap:
        ensure_topics(bootstrap)
        results.update(bench_latency(bootstrap, args.latency_seconds, 1000, log_dir()))
        print(json.dumps(results), flush=True)
        merge(results)
        results.update(bench_throughput(bootstrap, args.throughput_quotes, log_dir()))
        print(json.dumps(results), flush=True)
        merge(results)


if __name__ == "__main__":
    main()
