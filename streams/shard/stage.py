"""The shard stage of streams/topology.py: one numpy pass prices a whole batch of `shard.inputs`.

The runner (streams.agents.runner) hands the stage every ShardInput of a fetched batch; it
prices them with `ShardProcessor.run_batch`, emits each record's probabilities and signals
(routed by the declaration: `signals` and `model.probabilities`, keyed by event id), and
writes each touched event's snapshot (streams.shard.snapshot, the table's encoded format)
once per batch, to the changelog partition its record came from; the runner writes it only
after every output of the batch is acknowledged. A snapshot is joined from the raw bytes of
the inputs that built the state (`RawSnapshot`), so saving never re-encodes a record the
worker just decoded.

Decoded states are cached in memory: decoding a snapshot re-runs the model, so the table keeps
snapshots encoded and the stage decodes one on an event's first record. The runner drops the
cache on every rebalance and after a batch it did not finish, so a partition that comes back
is always reloaded from its changelog.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import structlog

from schemas.codec import default_codec
from schemas.records import ShardInput
from streams.shard.processor import ShardProcessor
from streams.shard.snapshot import RawSnapshot, SnapshotError, framed, load
from streams.shard.state import BadShardInput, ShardState

log = structlog.get_logger(__name__)

TABLE = "shard-state"


class Item(Protocol):
    key: str
    record: ShardInput
    partition: int
    raw: bytes


class BatchContext(Protocol):
    def table(self, name: str, partition: int) -> MutableMapping[str, Any]: ...

    async def emit(self, key: str, outputs: list[Any]) -> None: ...

    async def dead_letter(self, item: Any, error: BaseException | str) -> None: ...


class ShardStage:
    def __init__(self, processor: ShardProcessor) -> None:
        self.processor = processor
        self._cache: dict[str, ShardState] = {}
        self._raw: dict[str, RawSnapshot] = {}

    def revoked(self) -> None:
        """Forget every decoded state: the partitions' changelog is the truth after a rebalance."""
        self._cache.clear()
        self._raw.clear()

    def _state_for(self, event_id: str, table: MutableMapping[str, Any]) -> ShardState:
        st = self._cache.get(event_id)
        if st is not None:
            return st
        blob = table.get(event_id)
        st = ShardState(event_id=event_id)
        if blob:
            try:
                st = load(event_id, bytes(blob), self.processor.lookup, self.processor.config.pairing)
            except (SnapshotError, BadShardInput) as exc:
                log.error("unreadable shard snapshot; starting the event afresh", event_id=event_id, error=str(exc))
        self._cache[event_id] = st
        self._raw[event_id] = RawSnapshot.of(st)
        return st

    async def price(self, ctx: BatchContext, items: Sequence[Item]) -> None:
        records = [it.record for it in items]
        states = {r.event_id: self._state_for(r.event_id, ctx.table(TABLE, it.partition)) for r, it in zip(records, items)}
        res = self.processor.run_batch(states, records)
        raw_of: dict[int, bytes] = {}
        touched: dict[str, int] = {}
        for it, rec, err in zip(items, records, res.errors):
            if err is None:
                raw = bytes(it.raw)
                if rec.quote is not None and rec.listing is not None:  # kept apart (RawSnapshot.set_listed)
                    raw = default_codec().encode(replace(rec, listing=None))
                raw_of[id(rec.state if rec.state is not None else rec.quote)] = framed(raw)
                touched[rec.event_id] = it.partition
        # state first (to the batch's pending writes, no waiting), then the outputs: a rebalance during a send
        # drops the cache and the batch writes nothing
        for eid, partition in touched.items():
            st, old = res.states[eid], self._cache[eid]
            if st is old:
                continue  # nothing applied (stale or out-of-order input only)
            if old.books.structure != st.books.structure:  # the market set changed: say how it pairs
                for a, b, equivalent, reason in sorted(st.books.verdicts() - old.books.verdicts()):
                    log.info("cross-venue pair" if equivalent else "cross-venue pair refused",
                             event_id=eid, markets=f"{a} / {b}", reason=reason)
            self._cache[eid] = st
            raw = self._raw[eid]
            raw.set_state(st, raw_of.get(id(st.state)))  # a state the shard gave a venue prior is encoded afresh
            raw.set_listed(st, old)
            for key, q in zip(st.books.keys, st.books.quotes):
                b = raw_of.get(id(q))
                if b is not None:
                    raw.set_quote(key, b)
            ctx.table(TABLE, partition)[eid] = raw.blob(st)
        for it, rec, outs, err, model_err in zip(items, records, res.outputs, res.errors, res.model_errors):
            if err is not None:
                await ctx.dead_letter(it, BadShardInput(err))
                continue
            if model_err is not None:
                log.warning("no model probability", event_id=rec.event_id, error=model_err)
            await ctx.emit(rec.event_id, outs)
