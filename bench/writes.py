"""Topic and changelog writes per Kalshi book delta, counted on the recorded session.

`python -m bench.writes` replays `data/sessions/nba-2026-finals-g3` (the real-data session:
Kalshi websocket frames, ESPN scoreboards, Polymarket books; see its PROVENANCE.md) through
the connectors' own normalizers and the backtest's agent groups in process (discovery, router,
shard and trading hosted by streams.local.LocalHost, one `paper` account), and counts, for every
quote made from an `orderbook_delta` frame, the records it causes on each topic and each
changelog-backed table, with their encoded sizes:

- topics: `raw.kalshi` (the frame), `markets.quotes`, `shard.inputs`, the trading inbox;
- changelogs: `router-quotes` (the router writes the table of the record it read),
  `shard-state` (the event's snapshot, once per batch that changed it: batches of one here,
  as at the venue's pace; its size is `streams.shard.snapshot.dump`) and every trading table
  written while the delta's records run (the table's state codec).

Signals, orders and fills a delta causes are counted apart (`caused`): they are the trading,
not the cost of carrying a book. The README's before/after figures were taken with earlier
versions of this file, which wired the processors by hand. Flat `writes.*` keys merge
into bench/results.json.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "data" / "sessions" / "nba-2026-finals-g3"
CARRY = ("raw.kalshi", "markets.quotes", "shard.inputs", "trading.inbox")


class _Counted(dict):  # type: ignore[type-arg]
    """A table that counts its writes and their encoded bytes (the shard's snapshots are bytes already)."""

    def __init__(self, name: str, codec: Any, tally: Counter[str]) -> None:
        super().__init__()
        self.name, self.codec, self.tally = name, codec, tally

    def __setitem__(self, key: str, value: Any) -> None:
        self.tally[f"changelog {self.name}"] += 1
        self.tally[f"bytes {self.name}"] += len(value) if isinstance(value, bytes) else len(self.codec.encode(value))
        super().__setitem__(key, value)


def count(session: Path = SESSION) -> dict[str, Any]:
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine
    from ops.backtest.records import as_inputs, replay_order
    from ops.sessions.replay import normalize
    from schemas.codec import default_codec
    from schemas.records import Quote, RawFeed
    from streams.topology import PIPELINE

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
    # the backtest's agent groups in process, one `paper` account; one record at a time: shard batches of one, as
    # at the venue's pace
    host = InProcessEngine(BacktestConfig(account="paper")).host()
    specs = {t.name: t for s in PIPELINE for t in s.tables}
    host.tables = {name: _Counted(name, specs[name].codec, tally) for name in host.tables}
    deltas = 0
    per_delta: Counter[str] = Counter()
    caused: Counter[str] = Counter()
    for rec in inputs:
        value = rec.value
        delta = isinstance(value, Quote) and value.quote_id in from_delta
        before, logged = Counter(tally), {t: len(v) for t, v in host.log.items()}
        host.feed(rec.topic, rec.key, value)
        if not delta:
            continue
        deltas += 1
        per_delta["topic raw.kalshi"] += 1
        per_delta["bytes raw.kalshi"] += raw_bytes[value.quote_id]
        for k, v in (tally - before).items():
            per_delta[k] += v
        for topic, records in host.log.items():
            new = records[logged.get(topic, 0):]
            if not new:
                continue
            bucket = per_delta if topic in CARRY else caused
            bucket[f"topic {topic}"] += len(new)
            if topic in CARRY:
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
