"""The shard agent: a thin Faust wrapper around `streams.shard.processor`.

Consumes `shard.inputs` (keyed by event id) in batches so one numpy call prices all
rows of the batch, sends Probability records to `model.probabilities` and Signals to
`signals` keyed by event id, and keeps each event's state in a changelog-backed
table (value: a `streams.shard.snapshot`, written once per batch per touched event).

Table writes name their changelog partition explicitly: the partition the event's
record came from on `shard.inputs` (Faust would otherwise use whichever record of
the batch is its "current event", or need producer metadata for the changelog topic
before the first write when `use_partitioner` is set). Decoded states are cached
in memory and the cache is dropped on every rebalance, so a partition that comes
back is always reloaded from its changelog.
"""

from __future__ import annotations

import os
from typing import Any

import faust
import structlog

from schemas.records import ShardInput, Signal
from streams.app import app
from streams.codecs import Undecodable
from streams.deadletter import send_dead_letter
from streams.shard.config import ShardConfig
from streams.shard.processor import Plan, ShardProcessor
from streams.shard.snapshot import SnapshotError, dump, load
from streams.shard.state import BadShardInput, ShardState
from streams.topics import topic

log = structlog.get_logger(__name__)

SERVICE = "shard"
#: ARBEES_SHARD_BATCH / ARBEES_SHARD_WITHIN_MS: how many records one numpy pass prices, and how long a batch may wait.
BATCH = int(os.environ.get("ARBEES_SHARD_BATCH", "500"))
WITHIN_S = int(os.environ.get("ARBEES_SHARD_WITHIN_MS", "2")) / 1000

processor = ShardProcessor(ShardConfig())

states_table = app.Table(
    "shard-state",
    default=None,
    partitions=12,
    key_type=bytes,  # raw UTF-8 event id, as on shard.inputs
    value_type=bytes,
    help="Per-event shard snapshot: latest state, emitted probability, every market's latest quote.",
)

_cache: dict[str, ShardState] = {}


@app.on_partitions_revoked.connect  # type: ignore[misc]
async def _drop_cache(sender: Any, revoked: Any, **kwargs: Any) -> None:
    _cache.clear()


def _state_for(event_id: str) -> ShardState:
    st = _cache.get(event_id)
    if st is not None:
        return st
    blob = states_table.get(event_id.encode())
    if blob:
        try:
            st = load(event_id, bytes(blob), processor.lookup, processor.config.settle_tolerance_ms)
        except (SnapshotError, BadShardInput) as exc:
            log.error("unreadable shard snapshot; starting the event afresh", event_id=event_id, error=str(exc))
            st = ShardState(event_id=event_id)
    else:
        st = ShardState(event_id=event_id)
    _cache[event_id] = st
    return st


def _save(event_id: str, partition: int) -> None:
    """Store the event's snapshot locally and on the changelog partition of its input."""
    key, value = event_id.encode(), dump(_cache[event_id])
    states_table.data[key] = value
    states_table.send_changelog(partition, key, value)


async def _plan_batch(events: list[faust.EventT]) -> list[tuple[Plan, int]]:
    plans: list[tuple[Plan, int]] = []
    for event in events:
        value = event.value
        if isinstance(value, Undecodable):
            await send_dead_letter(event, f"{value.error_type}: {value.error}", SERVICE, raw=value.raw)
            continue
        if not isinstance(value, ShardInput):
            await send_dead_letter(event, f"expected ShardInput, got {type(value).__name__}", SERVICE)
            continue
        try:
            plan = processor.plan(_state_for(value.event_id), value)
        except BadShardInput as exc:
            await send_dead_letter(event, exc, SERVICE)
            continue
        if plan.error:
            log.warning("no model probability", event_id=value.event_id, error=plan.error)
        _cache[value.event_id] = plan.state
        plans.append((plan, event.message.partition))
    return plans


@app.agent(topic("shard.inputs"), name="shard")
async def shard(stream: faust.StreamT) -> None:
    probabilities, signals = topic("model.probabilities"), topic("signals")
    async for events in stream.take_events(BATCH, within=WITHIN_S):
        planned = await _plan_batch(list(events))
        if not planned:
            continue
        outputs = processor.finish([p for p, _ in planned])
        touched: dict[str, int] = {}
        for (plan, partition), outs in zip(planned, outputs):
            eid = plan.record.event_id
            touched[eid] = partition
            for out in outs:
                dest = signals if isinstance(out, Signal) else probabilities
                await dest.send(key=eid, value=out)
        for eid, partition in touched.items():
            _save(eid, partition)
