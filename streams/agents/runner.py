"""The generic Faust runner: one agent per stage of streams/topology.py, built from its declaration
(the account stages, sizing, execution and positions, share one: `shared_readers`).

For a stage it subscribes one channel to the stage's input topics (an internal one, such as the
trading inbox, is the worker's `<app id>-trading-inbox`), declares its tables with their state
codecs on the changelog, and runs the stage's handler over fetched batches (streams.agents.batch):
the batch's values are decoded at once, the handler runs per record in order (or, for a batch
stage such as the shard, once over the whole batch), each output
is routed by the declaration and sent as it comes, and once per batch every output's
delivery is awaited and only then the batch's state written to the changelog. A record a
topic never carries is dead-lettered; a record of another stage is left to it; a handler's
exception is dead-lettered with its reason and the batch goes on.

A batch the worker does not finish (it is stopping, or a rebalance took its partitions) is
held back: its offsets are never acked, so the partitions' owner reads it again from the
committed offsets and no state of it is written (the stream's batches (streams.agents.take) would otherwise ack
every event it yielded once the agent moves on or is cancelled: a live submit in flight when
the worker stopped was never read again, tests/integration/test_trading_stop.py).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import faust
from faust.streams import Stream
import structlog
from faust.serializers import codecs

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.errors import DecodeError
from schemas.topics import spec
from streams import event_time_order
from streams.agents.batch import DELETED, Batch, Revoked, Send
from streams.agents.heartbeat import METER
from streams.agents.take import batches
from streams.app import app, settings
from streams.codecs import AVRO, UTF8, Framed
from streams.generations import current, resolve
from streams.topology import INBOX, INTERNAL, Facts, Stage, TableSpec, group
from telemetry.meter import observe_trading

log = structlog.get_logger(__name__)



#: A group's own default wait for a batch to fill. Discovery writes a league's whole state (megabytes at 1,000
#: games) once per batch that changes it: while a slate's games first arrive (the load bench: 1,000 in 30 s) 2 ms
#: batches of one or two games cost a full write each and kept it a minute behind; a link 250 ms later is still in
#: time for any market.
WITHIN_MS = {"discovery": "250"}


def batch_limits(group: str, environ: Mapping[str, str] = os.environ) -> tuple[int, float]:
    """Records per batch at most, and how long (s) a batch may wait to fill: ARBEES_<GROUP>_BATCH and
    ARBEES_<GROUP>_WITHIN_MS (ARBEES_SHARD_BATCH: how many inputs one numpy pass prices), else ARBEES_BATCH and
    ARBEES_BATCH_WITHIN_MS, else 500 and the group's `WITHIN_MS` or 2 ms; no wait at all in an event-time ordered
    replay, whose consumer releases the next source record only once every record delivered before it is
    processed, so a batch waiting to fill only waits (discovery's 250 ms on each state and listing of the session,
    every hop's 2 ms on each record of a cascade)."""
    g = group.upper()
    size = environ.get(f"ARBEES_{g}_BATCH") or environ.get("ARBEES_BATCH") or "500"
    default = "0" if event_time_order.enabled(environ) else WITHIN_MS.get(group, "2")
    within = environ.get(f"ARBEES_{g}_WITHIN_MS") or environ.get("ARBEES_BATCH_WITHIN_MS") or default
    return int(size), int(within) / 1000


#: ARBEES_BATCH_CHECKPOINT_MS: a batch of one-record stages also checkpoints (awaits its outputs, writes its state)
#: once this much time has passed since its last checkpoint, so a worker killed in a long batch (a backlog on a loaded
#: machine) loses at most this much work. Records after a checkpoint re-done on top of its state are what the
#: processors already take (deduplicated ids, versioned ledger), as when a kill lands between a state write and the
#: offset commit.
CHECKPOINT_S = int(os.environ.get("ARBEES_BATCH_CHECKPOINT_MS", "100")) / 1000

_revocations = [0]  # how many rebalances took partitions away; a batch that saw one is held back
_on_revocation: list[Callable[[], None]] = []  # handlers' caches of decoded state, dropped on every revocation


@app.on_partitions_revoked.connect  # type: ignore[misc, arg-type]
async def _on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
    _revocations[0] += 1
    for drop in _on_revocation:
        drop()


def topic_name(name: str) -> str:
    """The broker topic of a declared input: the worker's own for an internal one, else the registry topic in this
    worker's generation."""
    return f"{settings.app_id}-{name.replace('.', '-')}" if name in INTERNAL else resolve(name)[0]


INBOX_TOPIC = topic_name(INBOX)


def carries(name: str) -> tuple[type, ...]:
    """The record types a topic may hold: the registry's, or what the topology puts on an internal one."""
    return INTERNAL[name][0] if name in INTERNAL else spec(name).value_types


class _StateCodec(codecs.Codec):
    """A table's state codec (streams.state_codec) as Faust's changelog value serializer."""

    def __init__(self, table: TableSpec) -> None:
        super().__init__()
        self.state = table.codec

    def _dumps(self, obj: Any) -> bytes:
        return self.state.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.state.decode(bytes(s))


def state_table(table: TableSpec, stage: Stage) -> Any:
    """The Faust table of `table`: named in this worker's generation of the stage's family, values through the
    table's state codec (or kept encoded, for the stage to decode); one table however many stages declare it."""
    name = current(stage.family).table(table.name) if stage.family is not None else table.name
    if name in app.tables:  # a table two stages share (sizing's and positions' tops)
        return app.tables[name]
    codec = "raw"
    if not table.encoded:
        codec = f"arbees-state-{table.name}"
        codecs.register(codec, _StateCodec(table))
    extra = {"max.message.bytes": str(table.max_bytes)} if table.max_bytes else {}
    return app.Table(name, partitions=stage.partitions, key_serializer=UTF8, value_serializer=codec,
                     extra_topic_configs=extra)


async def produce(topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> Any:
    """Hand one encoded record to the worker's producer; returns its delivery.

    Straight to the client, not through a Faust topic: its send builds a pending message, a future
    message, sensor states and a completion callback per record (a third of a router's CPU per quote
    went to sending its two records). The origin header is still stamped (streams.guarded_consumer)
    and the commit's producer flush still covers every record handed over here."""
    return await app.producer.send(topic, key, value, partition, None, None)


async def write(tables: dict[str, Any], name: str, key: str, value: Any, partition: int) -> None:
    """Store a table value locally and on the changelog partition of the record that wrote it (Faust's own
    `table[key] = value` would take the partition of the stream's current event: the batch's last)."""
    table = tables[name]
    if value is DELETED:
        table.data.pop(key, None)
        encoded = None
    else:
        table.data[key] = value
        encoded = codecs.dumps(table.value_serializer, value)
    await produce(table.changelog_topic.get_topic_name(), key.encode(), encoded, partition)


async def send(name: str, key: str, value: Any) -> Any:
    """Send one output now (not attached to the offset commit); returns its delivery."""
    observe_trading(value)
    broker_name = _broker_name(name)
    if name not in INTERNAL:
        METER.produced(broker_name)
    return await produce(broker_name, key.encode(), codecs.dumps(AVRO, value))


#: A declared topic's broker name, resolved once per process (the generation a worker runs in does not change under it).
_broker_name = lru_cache(maxsize=None)(topic_name)


class _Context:
    """What a handler gets for one record: its key, the sampled facts, its tables and outputs within the batch."""

    def __init__(self, stage: Stage, batch: Batch, item: Item, facts: Facts) -> None:
        self.stage, self.batch, self.item, self.facts = stage, batch, item, facts
        self.key, self.partition = item.key, item.partition

    def table(self, name: str) -> MutableMapping[str, Any]:
        return self.batch.table(name, self.partition)

    async def emit(self, outputs: list[Any]) -> None:
        for out in outputs:
            topic, key, value = self.stage.route(self.key, out)
            if value is self.item.record:  # the record read, sent on (a fan-out or re-key): its bytes as read
                value = Framed(bytes(self.item.raw))
            await self.batch.send(topic, key, value)

    async def flush(self) -> None:
        """Make everything so far durable (outputs acknowledged, then state written and flushed): before a venue call."""
        await self.batch.checkpoint()
        await app.producer.flush()


@dataclass(frozen=True)
class Item:
    """One record of a batch stage's batch, with what its handler needs besides the record."""

    key: str
    record: Any
    partition: int
    raw: bytes  # the message value, framed Avro as on the topic
    event: Any
    source: str = ""  # the declared topic it came from (which of a shared agent's stages take it)


class _BatchContext:
    """What a batch stage's handler gets for its whole batch."""

    def __init__(self, stage: Stage, batch: Batch, facts: Facts) -> None:
        self.stage, self.batch, self.facts = stage, batch, facts

    def table(self, name: str, partition: int) -> MutableMapping[str, Any]:
        return self.batch.table(name, partition)

    async def emit(self, key: str, outputs: list[Any]) -> None:
        for out in outputs:
            await self.batch.send(*self.stage.route(key, out))

    async def dead_letter(self, item: Item, error: BaseException | str) -> None:
        await self.batch.send("deadletter", item.event.message.topic, dead_letter_of(item.event, error, self.stage.name))


async def emit(stage: Stage, key: str, outputs: list[Any]) -> None:
    """Send outputs of `stage` outside any batch (a timer's), routed by its declaration, and await their delivery."""
    for fut in [await send(*stage.route(key, out)) for out in outputs]:
        await fut


def decode_batch(values: Sequence[Any]) -> list[Any]:
    """The batch's raw values as records, decoded in one pass; an undecodable value becomes its DecodeError."""
    decode = default_codec().decode
    out: list[Any] = []
    for raw in values:
        try:
            out.append(decode(bytes(raw)))
        except DecodeError as exc:
            out.append(exc)
    return out


def hold(events: Sequence[Any]) -> None:
    """Keep events from being acked (their offsets from being committed): the batch is read again."""
    for event in events:
        event.message.incref()


def release(events: Sequence[Any]) -> None:
    """Undo `hold` for a finished batch: the stream's own ack commits it."""
    for event in events:
        event.message.decref()


def dead_letter_of(event: Any, error: BaseException | str, service: str) -> Any:
    msg = event.message
    return dead_letter(topic=msg.topic, partition=msg.partition, offset=msg.offset,
                       key=msg.key if isinstance(msg.key, bytes) else None,
                       value=msg.value if isinstance(msg.value, bytes) else b"", error=error, service=service,
                       ts=msg.timestamp and int(msg.timestamp * 1000) or 0)


class StageRunner:
    """Runs one stage over fetched batches; the Faust agent is `run`, tests drive `run_batch` with fake events."""

    def __init__(self, stage: Stage, handlers: Any, facts: Callable[[], Facts], tables: dict[str, Any],
                 declared: dict[str, str], send: Send = send, also: tuple[Stage, ...] = (),
                 write: Callable[..., Awaitable[None]] = write) -> None:
        self.stage, self.facts, self.tables, self.declared, self.send = stage, facts, tables, declared, send
        self.write = write  # (tables, table name, key, value or DELETED, changelog partition)
        self.stages = (stage, *also)  # `also`: stages run on the same records after `stage`, in declaration order
        self.handlers = {s.name: getattr(handlers, s.handler) for s in self.stages}
        self.handler = self.handlers[stage.name]
        self.forget: Callable[[], None] = getattr(handlers, "revoked", lambda: None)  # the handlers' decoded state
        self.size, self.within = batch_limits(stage.group)
        self.checkpoint_s = CHECKPOINT_S

    async def run(self, stream: faust.StreamT) -> None:
        async for events in batches(cast(Stream, stream), self.size, self.within):
            try:
                await self.run_batch(events)
            except Exception as exc:  # an output the broker did not take: fail-stop, as a SIGKILL would
                log.critical("an output of the batch was not delivered; stopping the worker (its restart re-does the "
                             "batch from the committed offsets)", stage=self.stage.name, error=f"{type(exc).__name__}: {exc}")
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(70)  # a restarted agent would go on past the held batch; the worker's restart does not

    async def run_batch(self, events: Sequence[Any]) -> None:
        epoch = _revocations[0]
        batch = Batch(self.tables, self.send, lambda *a: self.write(self.tables, *a), owned=lambda: _revocations[0] == epoch)
        # Held from the start, not only once an exception reaches us: a stopping worker closes the stream's
        # generators (a batch's events are acked when its generator closes) before it cancels the agent, so a batch still
        # waiting (a live submit at the venue) was acked, then committed, before its CancelledError came
        # (tests/integration/test_trading_stop.py). Released only once the batch is done.
        hold(events)
        try:
            items: list[Item] = []
            last = time.monotonic()
            facts = self.facts()  # sampled per batch and again at each checkpoint (a stat per record cost 3% of trading)
            for event, record in zip(events, decode_batch([e.value for e in events])):
                if _revocations[0] != epoch:
                    break
                item = await self._admit(batch, event, record)
                if item is None:
                    continue
                if self.stage.batch:
                    items.append(item)
                    continue
                await self._one(batch, item, facts)
                if time.monotonic() - last >= self.checkpoint_s:
                    await batch.checkpoint()
                    last = time.monotonic()
                    facts = self.facts()
            if items and _revocations[0] == epoch:
                await self._batch(batch, items)
            await batch.checkpoint()
        except Revoked:
            self.forget()
            log.info("batch held back: partitions were revoked while it ran", stage=self.stage.name, records=len(events))
            return
        except BaseException:  # stopping (cancelled) mid-batch, or an output the broker refused: nothing is acked
            self.forget()  # what the handlers decoded from this batch was never written
            raise
        release(events)

    async def _admit(self, batch: Batch, event: Any, record: Any) -> Item | None:
        """The record as an item for the stage, or None: dead-lettered (undecodable, not what its topic carries) or
        for another stage reading the same topic."""
        msg = event.message
        source = self.declared.get(msg.topic, msg.topic)
        if isinstance(record, DecodeError):
            await self._dead_letter(batch, event, f"{type(record).__name__}: {record}")
        elif not isinstance(record, carries(source)):
            await self._dead_letter(batch, event, f"{source} carries {[c.__name__ for c in carries(source)]}, "
                                                  f"got {type(record).__name__}")
        else:
            key = event.key if isinstance(event.key, str) else ""
            if key and any(s.takes(source, record) for s in self.stages):
                return Item(key, record, msg.partition, msg.value, event, source)
        return None

    async def _batch(self, batch: Batch, items: list[Item]) -> None:
        """A batch stage's handler over the batch; if it fails, record by record, dead-lettering each that fails."""
        ctx = _BatchContext(self.stage, batch, self.facts())
        before = batch.saved()
        try:
            await self.handler(ctx, items)
            return
        except Exception as exc:  # noqa: BLE001 - a bad record must not cost the batch: find it
            log.error("batch failed; handling it record by record", stage=self.stage.name, error=f"{type(exc).__name__}: {exc}")
        batch.restore(before)
        self.forget()
        for item in items:
            before = batch.saved()
            try:
                await self.handler(ctx, [item])
            except Exception as exc:  # noqa: BLE001 - dead-lettered with the reason; the batch goes on
                batch.restore(before)
                self.forget()
                await self._dead_letter(batch, item.event, f"{type(exc).__name__}: {exc}")

    async def _one(self, batch: Batch, item: Item, facts: Facts) -> None:
        for stage in self.stages:  # in declaration order, as the in-process host delivers (streams.local)
            if not stage.takes(item.source, item.record):
                continue
            try:
                await self.handlers[stage.name](_Context(stage, batch, item, facts), item.record)
            except Exception as exc:  # noqa: BLE001 - dead-lettered with the reason; the batch goes on
                await self._dead_letter(batch, item.event, f"{type(exc).__name__}: {exc}", stage.name)

    async def _dead_letter(self, batch: Batch, event: Any, why: str, service: str = "") -> None:
        msg = event.message
        service = service or self.stage.name
        log.warning("dead-lettered", stage=service, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                    error=why)
        await batch.send("deadletter", msg.topic, dead_letter_of(event, why, service))


def build(stage: Stage, handlers: Any, facts: Callable[[], Facts] = Facts, also: tuple[Stage, ...] = ()) -> Any:
    """The Faust agent of `stage` (and of `also`, run on the same records after it), its handlers taken from
    `handlers` (streams.trading.stages.Stages, ...)."""
    stages = (stage, *also)
    declared = {topic_name(t): t for s in stages for t in s.inputs}  # broker name -> declared name
    internal = any(t in INTERNAL for t in declared.values())
    channel = app.topic(*declared, partitions=stage.partitions if internal else None, internal=internal,
                        key_serializer=UTF8, value_serializer="raw")  # decoded per batch by the runner
    tables = {t.name: state_table(t, s) for s in stages for t in s.tables}
    runner = StageRunner(stage, handlers, facts, tables, declared, also=also)
    name = "+".join(s.name for s in stages)

    async def run(stream: faust.StreamT) -> None:
        await runner.run(stream)

    run.__name__ = run.__qualname__ = re.sub(r"\W", "_", name)
    agent = app.agent(channel, name=name)(run)
    agent.runner = runner  # type: ignore[attr-defined]
    return agent


def shared_readers(stages: Sequence[Stage]) -> tuple[Stage, ...]:
    """The account stages of a group: keyed alike, reading co-partitioned topics (the inbox, fills, ledger, ...) that
    most of them share. One agent runs them, each record through each stage that takes it in declaration order:
    a record is fetched, delivered and decoded once, not once per stage (three times for every quote on the inbox),
    and the stages see it in the order the in-process host gives (streams.local)."""
    return tuple(s for s in stages if s.key == "account" and not s.batch)


def build_group(name: str, handlers: Any, facts: Callable[[], Facts] = Facts) -> dict[str, Any]:
    """The agents of agent group `name`: one per stage, the account stages' one for all of them (`shared_readers`);
    `handlers.revoked()`, if it has one, runs on every revocation."""
    revoked = getattr(handlers, "revoked", None)
    if revoked is not None:
        _on_revocation.append(revoked)
    shared = shared_readers(group(name))
    agents = {s.name: build(s, handlers, facts) for s in group(name) if len(shared) < 2 or s not in shared}
    if len(shared) > 1:
        agents[shared[0].name] = build(shared[0], handlers, facts, also=shared[1:])
    return agents
