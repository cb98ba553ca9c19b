"""The shard agent: a thin Faust wrapper around `streams.shard.processor`.

Consumes `shard.inputs` (keyed by event id) in batches so one numpy pass prices all
rows of the batch (`ShardProcessor.run_batch`), sends Probability records to
`model.probabilities` and Signals to `signals` keyed by event id, and keeps each
event's state in a changelog-backed table (value: a `streams.shard.snapshot`,
written once per batch per touched event). The snapshot is joined from the raw
bytes of the inputs that built the state (`RawSnapshot`), so saving never
re-encodes a record the worker just decoded.

Table writes name their changelog partition explicitly: the partition the event's
record came from on `shard.inputs` (Faust would otherwise use whichever record of
the batch is its "current event", or need producer metadata for the changelog topic
before the first write when `use_partitioner` is set). Decoded states are cached
in memory and the cache is dropped on every rebalance, so a partition that comes
back is always reloaded from its changelog.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust
import structlog

from schemas.records import ShardInput, Signal
from schemas.topics import Family
from streams.app import app
from streams.codecs import Undecodable
from streams.deadletter import send_dead_letter
from streams.generations import current
from streams.config_file import load as load_config
from streams.shard.processor import ShardProcessor
from streams.shard.snapshot import RawSnapshot, SnapshotError, framed, load
from streams.shard.state import BadShardInput, ShardState
from streams.topics import topic

log = structlog.get_logger(__name__)

SERVICE = "shard"
#: ARBEES_SHARD_BATCH / ARBEES_SHARD_WITHIN_MS: how many records one numpy pass prices, and how long a batch may wait.
BATCH = int(os.environ.get("ARBEES_SHARD_BATCH", "500"))
WITHIN_S = int(os.environ.get("ARBEES_SHARD_WITHIN_MS", "2")) / 1000

processor = ShardProcessor(load_config().shard)  # arbees.toml or ARBEES_CONFIG

GENERATION = current(Family.SHARD)  # the table is rebuilt under a new name when `arbees scale` grows shard.inputs
states_table = app.Table(
    GENERATION.table("shard-state"),
    default=None,
    partitions=GENERATION.partitions,  # co-partitioned with its source, shard.inputs of the same generation
    key_type=bytes,  # raw UTF-8 event id, as on shard.inputs
    value_type=bytes,
    help="Per-event shard snapshot: latest state, emitted probability, every market's latest quote.",
)

_cache: dict[str, ShardState] = {}
_raw: dict[str, RawSnapshot] = {}
_revocations = [0]  # how many rebalances took partitions away; a batch that saw one is abandoned


@app.on_partitions_revoked.connect  # type: ignore[misc]
async def _drop_cache(sender: Any, revoked: Any, **kwargs: Any) -> None:
    _revocations[0] += 1
    _cache.clear()
    _raw.clear()


def _hold(batch: list[faust.EventT]) -> None:
    """Keep a batch from being acked: `take_events` acks every event it yielded once the agent moves on or is
    cancelled, which would commit offsets past records whose state was never saved."""
    for event in batch:
        event.message.incref()


def _state_for(event_id: str) -> ShardState:
    st = _cache.get(event_id)
    if st is not None:
        return st
    blob = states_table.get(event_id.encode())
    if blob:
        try:
            st = load(event_id, bytes(blob), processor.lookup, processor.config.pairing)
        except (SnapshotError, BadShardInput) as exc:
            log.error("unreadable shard snapshot; starting the event afresh", event_id=event_id, error=str(exc))
            st = ShardState(event_id=event_id)
    else:
        st = ShardState(event_id=event_id)
    _cache[event_id] = st
    _raw[event_id] = RawSnapshot.of(st)
    return st


def _remember(st: ShardState, raw_of: dict[int, bytes], listed: set[int]) -> None:
    """Point the event's raw snapshot at the input bytes behind its current state and books."""
    raw = _raw[st.event_id]
    raw.set_state(st, raw_of.get(id(st.state)))  # a state the shard gave a venue prior is encoded afresh
    for key, q in zip(st.books.keys, st.books.quotes):
        b = raw_of.get(id(q))
        if b is not None:
            raw.set_quote(key, b, id(q) in listed)


def _save(event_id: str, partition: int) -> None:
    """Store the event's snapshot locally and on the changelog partition of its input."""
    key, value = event_id.encode(), _raw[event_id].blob(_cache[event_id])
    states_table.data[key] = value
    states_table.send_changelog(partition, key, value)


@app.agent(topic("shard.inputs"), name="shard")
async def shard(stream: faust.StreamT) -> None:
    probabilities, signals = topic("model.probabilities"), topic("signals")
    async for events in stream.take_events(BATCH, within=WITHIN_S):
        batch: list[faust.EventT] = []
        for event in events:
            value = event.value
            if isinstance(value, Undecodable):
                await send_dead_letter(event, f"{value.error_type}: {value.error}", SERVICE, raw=value.raw)
            elif not isinstance(value, ShardInput):
                await send_dead_letter(event, f"expected ShardInput, got {type(value).__name__}", SERVICE)
            else:
                batch.append(event)
        if not batch:
            continue
        records: list[ShardInput] = [e.value for e in batch]
        epoch = _revocations[0]
        res = processor.run_batch({r.event_id: _state_for(r.event_id) for r in records}, records)
        raw_of: dict[int, bytes] = {}
        listed: set[int] = set()  # quotes whose input carried the market's listing
        touched: dict[str, int] = {}
        try:
            for event, rec, outs, err, model_err in zip(batch, records, res.outputs, res.errors, res.model_errors):
                if _revocations[0] != epoch:
                    break
                if err is not None:
                    await send_dead_letter(event, BadShardInput(err), SERVICE)
                    continue
                if model_err is not None:
                    log.warning("no model probability", event_id=rec.event_id, error=model_err)
                raw_of[id(rec.state if rec.state is not None else rec.quote)] = framed(bytes(event.message.value))
                if rec.quote is not None and rec.listing is not None:
                    listed.add(id(rec.quote))
                touched[rec.event_id] = event.message.partition
                for out in outs:
                    await (signals if isinstance(out, Signal) else probabilities).send(key=rec.event_id, value=out)
        except asyncio.CancelledError:  # the worker stops in the middle of the batch
            _hold(batch)
            raise
        if _revocations[0] != epoch:
            # A rebalance revoked partitions while the batch sent its outputs (the worker does not wait for its
            # streams to empty on a rebalance; the revocation dropped the cache this batch was reading). Before
            # this check the agent crashed on the dropped cache (KeyError) and was restarted, stalling its
            # partitions. The batch is held back instead: its partitions' owner reads it again from the committed
            # offsets and sends the same deterministic outputs, and no state is saved over what that owner restores.
            _hold(batch)
            log.info("batch abandoned: partitions were revoked while it ran", records=len(batch))
            continue
        for eid, partition in touched.items():
            st = res.states[eid]
            if st is _cache[eid]:
                continue  # nothing applied (stale or out-of-order input only)
            old = _cache.get(eid)
            if old is None or old.books.structure != st.books.structure:  # the market set changed: say how it pairs
                for a, b, equivalent, reason in sorted(st.books.verdicts() - (old.books.verdicts() if old else frozenset())):
                    log.info("cross-venue pair" if equivalent else "cross-venue pair refused",
                             event_id=eid, markets=f"{a} / {b}", reason=reason)
            _cache[eid] = st
            _remember(st, raw_of, listed)
            _save(eid, partition)
