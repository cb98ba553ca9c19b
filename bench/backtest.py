"""Backtest benchmark: `.venv/bin/python -m bench.backtest [--skip-broker]`.

Both engines replay the same input — live NFL-shaped events whose states tick
(clock, scores) and whose Kalshi and Polymarket markets are quoted with ladders
derived from the recorded venue books (bench/shard.py's `recorded_ladders` /
`synth_ladder`), plus the listings and links that route them — through
discovery → router → shard → trading:

- `backtest.inprocess_events_per_s`: input records per second of the in-process engine;
- `backtest.kafka_events_per_s`: input records per second of the Kafka engine, from the
  first record produced to the last output record's broker timestamp, one worker (all
  agent groups in one process, unphased replay), real broker, on a smaller input of the
  same shape (`--kafka-events`, `--kafka-quotes`): the worker runs one input record's
  cascade at a time (streams/event_time_order.py), a few broker round trips each;
- `backtest.kafka_identical`: whether the Kafka run's outputs equal the in-process engine's
  on that input, record for record (ops/backtest/compare.py).

The Kafka run shares the registry topics with whatever else runs on the broker; other
traffic on `shard.inputs` or `markets.quotes` lands in the same worker and slows it.
100 events × 6 markets by default: the discovery agent keeps one table value per league
holding every pending listing, and 1,200 unlinked listings make it 1.28 MB, past the
producer's 1 MB request limit, which crashes the worker (reported; streams/agents/discovery.py).

Keys merge into bench/results.json (read, update, write).
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from dataclasses import replace
from pathlib import Path

from bench.shard import SETTLE, T0, recorded_ladders, synth_ladder
from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.records import InputRecord, InputValue, as_inputs
from schemas.enums import EventStatus, MarketType, Venue
from schemas.records import EventState, MarketLink, MarketListing, Quote

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"


def synthetic_input(events: int, markets: int, quotes: int, run: str, seed: int = 11) -> list[InputRecord]:
    """Listings and links first, then a quote stream with a state tick every ~10 quotes of an event."""
    rng = random.Random(seed)
    ladders = recorded_ladders()
    items: list[tuple[str, InputValue]] = []
    states: dict[str, EventState] = {}
    market_ids: list[tuple[str, Venue, str]] = []
    for e in range(events):
        eid = f"bench:{run}:nfl:{e}"
        states[eid] = EventState(
            state_id=f"{eid}@0", event_id=eid, ts=T0, source="bench", market_type=MarketType.SPORT, league="nfl",
            status=EventStatus.LIVE, entity_a=f"Home {e}", entity_b=f"Away {e}", score_a=rng.randint(0, 21),
            score_b=rng.randint(0, 21), period=2, clock_seconds=900.0, spread_a=rng.uniform(-7, 7),
        )
        items.append(("events.state", states[eid]))
        for m in range(markets):
            venue = Venue.KALSHI if m % 2 == 0 else Venue.POLYMARKET
            mid = f"{eid}:{m}"
            role = "a" if (m // 2) % 2 == 0 else "b"
            items.append(("markets.catalog", MarketListing(
                listing_id=f"{venue.value}:{mid}", venue=venue, market_id=mid, ts=T0 - 60_000, market_type=MarketType.SPORT,
                league="nfl", title=f"Away {e} at Home {e}", taker_fee_rate=0.07 if venue is Venue.KALSHI else 0.03,
                settle_ts=SETTLE, resolution_source="NFL official result",
            )))
            items.append(("markets.links", MarketLink(
                link_id=f"{venue.value}:{mid}->{eid}:{role}", venue=venue, market_id=mid, event_id=eid, ts=T0 - 30_000,
                yes_role=role, confidence=1.0, method="bench",
            )))
            market_ids.append((eid, venue, mid))
    seq: dict[str, int] = {}
    for i in range(quotes):
        ts = T0 + 1_000 + i * 10  # 100 quotes per second of event time
        eid, venue, mid = market_ids[rng.randrange(len(market_ids))]
        if rng.random() < 0.1:
            st = states[eid]
            clock = max(0.0, (st.clock_seconds or 0.0) - rng.uniform(5, 40))
            scored = rng.random() < 0.1
            st = replace(st, state_id=f"{eid}@{i}", ts=ts, clock_seconds=clock,
                         score_a=st.score_a + (7 if scored and rng.random() < 0.5 else 0),
                         score_b=st.score_b + (3 if scored and rng.random() < 0.5 else 0))
            states[eid] = st
            items.append(("events.state", st))
        pre = "k" if venue is Venue.KALSHI else "p"
        seq[mid] = seq.get(mid, 0) + 1
        items.append(("markets.quotes", Quote(
            quote_id=f"q:{mid}:{seq[mid]}", venue=venue, market_id=mid, ts=ts, seq=seq[mid], source="bench",
            yes_ask_depth=synth_ladder(rng, ladders[f"{pre}_yes"], 10), no_ask_depth=synth_ladder(rng, ladders[f"{pre}_no"], 10),
        )))
    return as_inputs(items)


def merge(results: dict[str, object]) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(results)
    RESULTS.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--markets", type=int, default=6)
    ap.add_argument("--quotes", type=int, default=30_000)
    ap.add_argument("--kafka-events", type=int, default=4)
    ap.add_argument("--kafka-quotes", type=int, default=1000)
    ap.add_argument("--skip-broker", action="store_true")
    args = ap.parse_args()

    run = uuid.uuid4().hex[:8]
    records = synthetic_input(args.events, args.markets, args.quotes, run)
    events = tuple(sorted({r.value.event_id for r in records if isinstance(r.value, EventState)}))
    config = BacktestConfig(account=f"bench-{run}", events=events)
    InProcessEngine(config).run(records[:2000])  # warm-up: imports, model tables, numpy paths
    inproc = InProcessEngine(config).run(records)
    summary = inproc.summary(config.account)
    results: dict[str, object] = {
        "backtest.inprocess_events_per_s": round(inproc.events_per_s, 1),
        "backtest.input_records": len(records),
    }
    print(json.dumps({**results, "signals": summary.signals, "orders": summary.orders, "fills": summary.fills}), flush=True)
    merge(results)
    if args.skip_broker:
        return

    from bench.stack import kafka_bootstrap, log_dir
    from ops.backtest.kafka import KafkaEngine

    from ops.backtest.compare import compare_runs

    small = synthetic_input(args.kafka_events, args.markets, args.kafka_quotes, run)
    config = replace(config, events=tuple(sorted({r.value.event_id for r in small if isinstance(r.value, EventState)})))
    want = InProcessEngine(config).run(small)
    with kafka_bootstrap() as bootstrap:
        kafka = KafkaEngine(bootstrap, config, work_dir=log_dir(), timeout_s=1800).run(small)
    agreement = compare_runs(want, kafka)
    results["backtest.kafka_events_per_s"] = round(kafka.events_per_s, 1)
    results["backtest.kafka_identical"] = agreement.identical
    print(json.dumps({**results, "kafka_input_records": len(small), "kafka_signals": len(kafka.signals),
                      "inprocess_signals": len(want.signals), "kafka_orders": len(kafka.orders),
                      "inprocess_orders": len(want.orders), "kafka_seconds": round(kafka.seconds, 2),
                      "differences": list(agreement.differences[:5])}), flush=True)
    merge(results)


if __name__ == "__main__":
    main()
