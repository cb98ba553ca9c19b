"""What the two engines must agree on: every output, record for record, in each key's order.

Both engines run the same topology on the same input in the same order: the in-process engine
feeds its inputs by event time and finishes each one's cascade before the next, and the Kafka
engine's worker does the same through the broker (streams/event_time_order.py). So every output
topic must hold the same records, Avro bytes equal, in the same order per message key — which is
all Kafka orders (one key, one partition): links per market, shard inputs, probabilities and
signals per event, and the account's orders, fills, positions, ledger entries and risk events.
How the Kafka engine reads its outputs back interleaves partitions arbitrarily, so the
comparison is per key, never across keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import default_codec
from streams.keys import market_key

from ops.backtest.records import BacktestResult

#: Each compared output and the key Kafka orders it by.
KEYS: dict[str, Callable[[Any], str]] = {
    "links": lambda r: market_key(r.venue, r.market_id),
    "shard_inputs": lambda r: r.event_id,
    "probabilities": lambda r: r.event_id,
    "signals": lambda r: r.event_id,
    "orders": lambda r: r.account,
    "fills": lambda r: r.account,
    "positions": lambda r: r.account,
    "ledger": lambda r: r.account,
    "risk": lambda r: r.account,
}


def by_key(records: Sequence[Any], key: Callable[[Any], str]) -> dict[str, list[bytes]]:
    """Each key's records as Avro bytes, in the order produced."""
    codec = default_codec()
    out: dict[str, list[bytes]] = {}
    for r in records:
        out.setdefault(key(r), []).append(codec.encode(r))
    return out


@dataclass(frozen=True)
class Agreement:
    """Per compared output: equal or not, and where they first differ."""

    equal: dict[str, bool]
    differences: tuple[str, ...] = field(default_factory=tuple)

    @property
    def identical(self) -> bool:
        return all(self.equal.values())


def compare_runs(expected: BacktestResult, actual: BacktestResult) -> Agreement:
    equal: dict[str, bool] = {}
    diffs: list[str] = []
    for name, key in KEYS.items():
        a, b = by_key(getattr(expected, name), key), by_key(getattr(actual, name), key)
        equal[name] = a == b
        for k in sorted(set(a) | set(b)):
            x, y = a.get(k, []), b.get(k, [])
            if x != y:
                first = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                diffs.append(f"{name} of {k}: {len(x)} vs {len(y)} records, first difference at #{first}")
    return Agreement(equal, tuple(diffs))
