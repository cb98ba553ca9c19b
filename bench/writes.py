"""Topic and changelog writes per Kalshi book delta, counted on the recorded session.

`python -m bench.writes` replays `data/sessions/nba-2026-finals-g3` (the real-data session:
Kalshi websocket frames, ESPN scoreboards, Polymarket books; see its PROVENANCE.md) through
the connectors' own normalizers, discovery, the router, the shard processor and the trading
topology in process (streams.local.LocalHost, one `paper` account), and counts, for every
quote made from an `orderbook_delta` frame, the records it causes on each topic and each
changelog-backed table, with their encoded sizes:

- topics: `raw.kalshi` (the frame), `markets.quotes`, `shard.inputs`, the trading inbox;
- changelogs: `router-quotes` (the router writes the table of the record it read),
  `shard-state` (the event's snapshot, once per batch that changed it: batches of one here,
  as at the venue's pace; its size is `streams.shard.snapshot.dump`) and every trading table
  written while the delta's records run (the table's state codec).

Signals, orders and fills a delta causes are counted apart (`caused`): they are the trading,
not the cost of carrying a book. The same file runs on older commits (it uses only what they
share), which is how the README's before/after figures were taken. Flat `writes.*` keys merge
into bench/results.json.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "data" / "sessions" / "nba-2026-finals-g3"
CARRY = ("raw.kalshi", "markets.quotes", "shard.inputs", "trading.inbox")


class _Counted(dict):  # type: ignore[type-arg]
    """A table that counts its writes and their encoded bytes."""

    def __init__(self, name: str, codec: Any, tally: Counter[str]) -> None:
        super().__init__()
        self.name, self.codec, self.tally = name, codec, tally

    def __setitem__(self, key: str, value: Any) -> None:
        self.tally[f"changelog {self.name}"] += 1
        self.tally[f"bytes {self.name}"] += len(self.codec.encode(value))
        super().__setitem__(key, value)


def count(session: Path = SESSION) -> dict[str, Any]:
    from ops.backtest.records import as_inputs, replay_order
    from ops.sessions.replay import normalize
    from schemas.codec import default_codec
    from schemas.records import EventState, MarketLink, MarketListing, Quote, RawFeed, ShardInput, Signal
    from streams import router
    from streams.discovery import DiscoveryProcessor, DiscoveryState
    from streams.local import LocalHost
    from streams.shard.processor import ShardProcessor
    from streams.shard.snapshot import dump
    from streams.shard.state import BadShardInput, ShardState
    from streams.topology import TABLES, upstream
    from streams.trading.config import TradingConfig
    from streams.trading.stages import Stages

    codec = default_codec()
    published = normalize(session)
    # quotes made from delta frames: a frame's quotes follow its raw.kalshi record
    from_delta: set[str] = set()
    frame_type = ""
    raw_bytes: dict[str, int] = {}
    last_raw = 0
    for p in published:
        if p.topic == "raw.kalshi" and isinstance(p.record, RawFeed) and p.record.endpoint != "markets":
            frame_type = str(json.loads(p.record.body).get("type", ""))
            last_raw = len(codec.encode(p.record))
        elif p.topic == "markets.quotes" and isinstance(p.record, Quote) and frame_type == "orderbook_delta":
            from_delta.add(p.record.quote_id)
            raw_bytes[p.record.quote_id] = last_raw
    inputs = replay_order(as_inputs([(p.topic, p.record) for p in published
                                     if p.topic in ("events.state", "markets.catalog", "markets.quotes")]))

    tally: Counter[str] = Counter()
    host = LocalHost(Stages(TradingConfig(accounts=("paper",))))
    host.tables = {name: _Counted(name, TABLES[name].codec, tally) for name in TABLES}  # type: ignore[assignment]
    discovery = DiscoveryProcessor()
    shard = ShardProcessor()
    discovery_states: dict[str, Any] = {}
    routes: dict[str, Any] = {}
    shard_states: dict[str, ShardState] = {}
    deltas = 0
    per_delta: Counter[str] = Counter()
    caused: Counter[str] = Counter()

    def to_shard(si: ShardInput) -> None:
        st = shard_states.get(si.event_id) or ShardState(event_id=si.event_id)
        tally["topic shard.inputs"] += 1
        tally["bytes shard.inputs"] += len(codec.encode(si))
        try:
            new, outs = shard.step(st, si)
        except BadShardInput:
            tally["shard refused"] += 1
            return
        if new is not st:
            shard_states[si.event_id] = new
            tally["changelog shard-state"] += 1
            tally["bytes shard-state"] += len(dump(new))
        host.publish(si)
        for out in outs:
            if isinstance(out, Signal):
                host.publish(out)

    def route(key: str, record: Any) -> None:
        name = {Quote: "quotes", MarketLink: "links", MarketListing: "listings"}[type(record)]
        route_, outs = router.step(routes.get(key) or router.MarketRoute(), record)
        routes[key] = route_
        tally[f"changelog router-{name}"] += 1
        tally[f"bytes router-{name}"] += len(codec.encode(record))
        for _, si in outs:
            to_shard(si)

    def discover(record: Any) -> None:
        key = discovery.state_key(record)
        state, outs = discovery.step(discovery_states.get(key) or DiscoveryState(), record)
        discovery_states[key] = state
        for out in outs:
            topic, out_key, value = upstream("discovery", out)
            if topic == "markets.links":
                route(out_key, value)

    for rec in inputs:
        value = rec.value
        delta = isinstance(value, Quote) and value.quote_id in from_delta
        before, logged = Counter(tally), {t: len(v) for t, v in host.log.items()}
        if isinstance(value, EventState):
            to_shard(router.route_state(value)[1])
            discover(value)
        elif isinstance(value, MarketListing):
            discover(value)
            route(rec.key, value)
        else:
            route(rec.key, value)
        if not delta:
            continue
        deltas += 1
        per_delta["topic raw.kalshi"] += 1
        per_delta["bytes raw.kalshi"] += raw_bytes[value.quote_id]
        per_delta["topic markets.quotes"] += 1
        per_delta["bytes markets.quotes"] += len(codec.encode(value))
        for k, v in (tally - before).items():
            per_delta[k] += v
        for topic, records in host.log.items():
            new = records[logged.get(topic, 0):]
            if topic in ("shard.inputs",):
                continue  # counted above, where the shard read it
            bucket = per_delta if topic == "trading.inbox" else caused
            bucket[f"topic {topic}"] += len(new)
            if topic == "trading.inbox":
                bucket[f"bytes {topic}"] += sum(len(codec.encode(r)) for r in new)
    topics = sum(v for k, v in per_delta.items() if k.startswith("topic "))
    changelogs = sum(v for k, v in per_delta.items() if k.startswith("changelog "))
    total_bytes = sum(v for k, v in per_delta.items() if k.startswith("bytes "))
    return {
        "writes.kalshi_deltas": deltas,
        "writes.per_kalshi_delta": round((topics + changelogs) / deltas, 2),
        "writes.topic_per_kalshi_delta": round(topics / deltas, 2),
        "writes.changelog_per_kalshi_delta": round(changelogs / deltas, 2),
        "writes.bytes_per_kalshi_delta": round(total_bytes / deltas),
        "writes.detail_per_delta": {k: round(v / deltas, 2) for k, v in sorted(per_delta.items())},
        "writes.caused": dict(sorted(caused.items())),
    }


def main() -> None:
    """Print the counts; `make bench` (no argument) also merges the flat `writes.*` figures into bench/results.json."""
    out = count(Path(sys.argv[1]) if len(sys.argv) > 1 else SESSION)
    print(json.dumps(out, indent=1))
    if len(sys.argv) == 1:
        from bench.shard import merge

        merge({k: v for k, v in out.items() if not isinstance(v, dict)})


if __name__ == "__main__":
    main()
