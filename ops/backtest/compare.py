"""What the two engines must agree on, and why exactly that.

The shard is the point where Faust's ordering stops mattering. Kafka keeps the
records of one key in order (one key, one partition); the shard keeps one state
per event and reads only that event's records; and `ShardProcessor.step_batch`
gives record by record the outputs of `step`, whatever the batch (the agent's
`take_events(500, 2 ms)` batches depend on timing). So for each event, the
shard's outputs are a pure function of that event's `shard.inputs` sequence:

1. `check_shard_stage`: each event's signals and probabilities from the worker
   must equal, byte for byte (Avro) and in order, what the in-process shard
   makes of the `shard.inputs` the worker's router wrote for that event. This
   holds for any input and any timing.

2. `compare_runs`: the in-process run and the Kafka run of the same input must
   give every event the same `shard.inputs` sequence — and therefore, by (1),
   the same signals and probabilities, byte for byte. Upstream of the shard,
   Faust merges the topics an agent reads (discovery: catalog + states; router:
   quotes, links, catalog; and route_states beside it) in arrival order, not
   event time: a quote that reaches the router before its link goes out when
   the link lands, with the link's id and time. The in-process engine replays
   strictly by event time, so (2) holds when the replay leaves no such race:
   records whose relative order matters (reference data, then states, then
   quotes) are produced in separate phases (`KafkaEngine.run(phases=...)`),
   and the records of one market stay on one partition.

3. Orders are compared as a set of order ids with their fields. Order ids come
   from signal ids (identical by (2)); sizing also reads fills, ledger entries
   and book updates from a merged inbox whose interleaving with signals is
   timing: with one signal in flight at a time they agree, under load they may
   not (a second signal sized before the first one's fill lands sees other
   reserved exposure). Their equality is reported, not implied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from schemas.codec import default_codec
from schemas.records import Order, Probability, ShardInput, Signal

from ops.backtest.inprocess import InProcessEngine
from ops.backtest.records import BacktestResult


def by_event(records: Sequence[Signal | Probability | ShardInput]) -> dict[str, list[bytes]]:
    """Each event's records as Avro bytes, in the order produced."""
    codec = default_codec()
    out: dict[str, list[bytes]] = {}
    for r in records:
        out.setdefault(r.event_id, []).append(codec.encode(r))
    return out


def orders_by_id(orders: Sequence[Order]) -> dict[str, bytes]:
    codec = default_codec()
    return {o.order_id: codec.encode(o) for o in orders}


@dataclass(frozen=True)
class Agreement:
    """Per compared topic: equal or not, and the events (or order ids) that differ."""

    signals: bool
    probabilities: bool
    shard_inputs: bool
    orders: bool
    differences: tuple[str, ...] = field(default_factory=tuple)

    @property
    def signals_and_probabilities(self) -> bool:
        return self.signals and self.probabilities


def _diff(name: str, a: dict[str, list[bytes]], b: dict[str, list[bytes]]) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, []), b.get(key, [])
        if x != y:
            first = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            out.append(f"{name} of {key}: {len(x)} vs {len(y)} records, first difference at #{first}")
    return out


def compare_runs(expected: BacktestResult, actual: BacktestResult) -> Agreement:
    """Per-event sequences of shard inputs, probabilities and signals; orders as a set by id."""
    diffs: list[str] = []
    parts = {}
    for name in ("shard_inputs", "probabilities", "signals"):
        d = _diff(name, by_event(getattr(expected, name)), by_event(getattr(actual, name)))
        parts[name] = not d
        diffs += d
    eo, ao = orders_by_id(expected.orders), orders_by_id(actual.orders)
    if eo != ao:
        diffs.append(f"orders: {len(eo)} vs {len(ao)}; only in the first {sorted(set(eo) - set(ao))[:5]}, "
                     f"only in the second {sorted(set(ao) - set(eo))[:5]}, "
                     f"different {sorted(k for k in set(eo) & set(ao) if eo[k] != ao[k])[:5]}")
    return Agreement(parts["signals"], parts["probabilities"], parts["shard_inputs"], eo == ao, tuple(diffs))


def check_shard_stage(engine: InProcessEngine, kafka: BacktestResult) -> Agreement:
    """(1): the in-process shard over the worker's own `shard.inputs` must give the worker's outputs."""
    replayed = engine.run_shard_inputs(kafka.shard_inputs)
    agreement = compare_runs(replayed, kafka)
    # orders of the replay interleave events in read order, not the worker's: only shard outputs count here
    return Agreement(agreement.signals, agreement.probabilities, True, True,
                     tuple(d for d in agreement.differences if not d.startswith("orders")))
