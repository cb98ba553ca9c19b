"""The in-process host of streams/topology.py: the same stages and handlers as the Faust agents, without a broker.

A record put on a topic is delivered to every hosted stage that reads that topic and takes its
type; each output is routed by the emitting stage's declaration. Tables are dicts of decoded
state (with `check_codec` every write also round-trips through the table's codec, as a
changelog would). A handler's exception is dead-lettered with its reason and the run goes on,
as the Faust runner does. This is the in-process backtest engine (ops/backtest/inprocess.py:
discovery, router, shard and trading hosted together) and the unit-test seam of the agents
(Faust's `test_context`, for our stages): `put` a record, read `log`.

The delivery order is the event-time worker's (streams/event_time_order.py), derived from the
declaration, not coded per stage:

- source records go one at a time, each one's whole cascade before the next's;
- within a cascade, deliveries go breadth first: each record to its readers in declaration
  order, a handler's outputs in the order it emitted them;
- a record on a `HELD` topic (the shard's signals) waits until the rest of its source record's
  cascade is done, and then goes with its own whole cascade, one at a time.

Agent groups never feed back into a group before them (`group_order`), and a group's outputs
depend only on its own inputs in order. So the host may run a chunk of source records group by
group, each group's deliveries sorted by where they stand in that order: the outputs are the
same as running each source record to its end, and a batch stage (the shard) gets all of the
chunk's records at once, as the Faust runner hands it a fetched batch.

Handlers never wait on I/O here (no venue, nothing to acknowledge), so each one runs to
completion synchronously; a handler that does wait is an error, not a hang.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.codec import default_codec
from schemas.deadletters import dead_letter
from schemas.records import DeadLetter
from streams.topology import HELD, PIPELINE, Facts, Stage, TableSpec, group_order, source


class WaitedOnIO(RuntimeError):
    """An in-process handler awaited something that never completes synchronously (a live venue call)."""


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really suspends, to completion, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise WaitedOnIO("an in-process stage waited on I/O")


class _CheckedTable(dict[str, Any]):
    """A table whose every write round-trips through its codec, as a changelog-backed table's does."""

    def __init__(self, spec: TableSpec) -> None:
        super().__init__()
        self.codec = spec.codec

    def __setitem__(self, key: str, value: Any) -> None:
        decoded = self.codec.decode(self.codec.encode(value))
        if decoded != value:
            raise ValueError(f"{self.codec.cls.__name__} changed through its codec")
        super().__setitem__(key, decoded)


#: Where a delivery stands in the event-time order: (group rank, source record, lane, depth, path). The lane is
#: () for the source record's own cascade and the held record's (depth, path) for a held record's cascade.
Order = tuple[int, int, tuple[int, ...], int, tuple[int, ...]]


@dataclass(frozen=True)
class _Delivery:
    order: Order
    stage: Stage
    topic: str
    key: str
    value: Any


@dataclass
class _Emitter:
    """Puts one delivery's outputs, each at its place after the delivery's."""

    host: LocalHost
    parent: Order
    emitted: int = 0

    def emit(self, stage: Stage, key: str, outputs: list[Any]) -> None:
        """`outputs` of `stage` for a record keyed `key`, each routed by the stage's declaration."""
        _, origin, lane, depth, path = self.parent
        for out in outputs:
            topic, out_key, value = stage.route(key, out)
            self.emitted += 1
            self.host._put(topic, out_key, value, origin, lane, depth, (*path, self.emitted), emitted=True)


@dataclass
class _Context:
    """What a one-record handler gets (streams.topology.Context)."""

    stage: Stage
    key: str
    facts: Facts
    tables: Mapping[str, MutableMapping[str, Any]]
    out: _Emitter

    def table(self, name: str) -> MutableMapping[str, Any]:
        return self.tables[name]

    async def emit(self, outputs: list[Any]) -> None:
        self.out.emit(self.stage, self.key, outputs)

    async def flush(self) -> None:
        return None


@dataclass(frozen=True)
class Item:
    """One record of a batch stage's batch (streams.agents.runner.Item's fields a handler reads)."""

    key: str
    record: Any
    partition: int
    raw: bytes
    topic: str


@dataclass
class _BatchContext:
    """What a batch handler gets; it answers each item once, in item order, by `emit` or `dead_letter`."""

    host: LocalHost
    stage: Stage
    deliveries: Sequence[_Delivery]
    answered: int = 0

    def table(self, name: str, partition: int) -> MutableMapping[str, Any]:
        return self.host.tables[name]  # one process, one partition

    def _next(self) -> _Delivery:
        d = self.deliveries[self.answered]
        self.answered += 1
        return d

    async def emit(self, key: str, outputs: list[Any]) -> None:
        _Emitter(self.host, self._next().order).emit(self.stage, key, outputs)

    async def dead_letter(self, item: Item, error: BaseException | str) -> None:
        d = self._next()
        self.host._dead_letter(d, error)


class LocalHost:
    """Runs the declared stages of the groups it has handlers for, in this process, deterministically.

    `handlers`: group name → the object holding that group's stage handlers (streams.trading.stages.Stages,
    streams.upstream_stages, streams.shard.stage.ShardStage); a single object is the trading group's.
    """

    def __init__(self, handlers: Any, facts: Callable[[], Facts] = Facts, check_codec: bool = False,
                 batch: int = 500) -> None:
        self.handlers: Mapping[str, Any] = dict(handlers) if isinstance(handlers, Mapping) else {"trading": handlers}
        self.stages = self.handlers.get("trading")  # the trading handlers, for tests that drive their processors
        self.facts = facts
        self.batch = batch
        hosted = tuple(s for s in PIPELINE if s.group in self.handlers)
        self.rank = {g: i for i, g in enumerate(group_order(hosted))}
        self._readers: dict[str, list[Stage]] = defaultdict(list)
        self._taking: dict[tuple[str, type], tuple[tuple[int, Stage, int], ...]] = {}
        for s in hosted:
            for topic in s.inputs:
                self._readers[topic].append(s)
        specs = {t.name: t for s in hosted for t in s.tables}
        self.tables: dict[str, MutableMapping[str, Any]] = {
            name: (_CheckedTable(spec) if check_codec and not spec.encoded else {}) for name, spec in specs.items()}
        #: every record each topic received, fed or emitted, in order of delivery
        self.log: dict[str, list[Any]] = defaultdict(list)
        #: the stages' outputs alone, per topic
        self.emitted: dict[str, list[Any]] = defaultdict(list)
        self.deadletters: list[DeadLetter] = []
        self._heap: list[tuple[Order, int, _Delivery]] = []  # (order, a tie-break never reached, the delivery)
        self._origin = 0
        self._seq = 0

    # ------------------------------------------------------------ input

    def takes(self, topic: str, value: Any) -> bool:
        """Whether any hosted stage reads `value` on `topic`."""
        return bool(self._takers(topic, type(value)))

    def feed(self, topic: str, key: str, value: Any) -> None:
        """Put one source record and run everything it causes, to the end."""
        self.feed_many([(topic, key, value)])

    def feed_many(self, records: Iterable[tuple[str, str, Any]]) -> None:
        """Put source records, in order, and run all they cause: the outputs of feeding them one at a time."""
        for topic, key, value in records:
            self._origin += 1
            self._put(topic, key, value, self._origin, (), 0, ())
        self._drain()

    def publish(self, record: Any) -> None:
        """Feed a trading input record on its source topic (streams.topology.SOURCES)."""
        self.feed(*source(record), record)

    def state(self, table: str, key: str) -> Any:
        return self.tables[table].get(key)

    # ------------------------------------------------------------ delivery

    def _put(self, topic: str, key: str, value: Any, origin: int, lane: tuple[int, ...], depth: int,
             path: tuple[int, ...], emitted: bool = False) -> None:
        self.log[topic].append(value)
        if emitted:
            self.emitted[topic].append(value)
        if topic in HELD and lane == () and depth > 0:  # a held record waits for the rest of its source's cascade
            lane, depth, path = (depth, *path), 0, ()
        for i, s, rank in self._takers(topic, type(value)):
            self._seq += 1
            order = (rank, origin, lane, depth + 1, (*path, i))
            heapq.heappush(self._heap, (order, self._seq, _Delivery(order, s, topic, key, value)))

    def _takers(self, topic: str, cls: type) -> tuple[tuple[int, Stage, int], ...]:
        """(place among the topic's readers, stage, its group's rank) of each hosted stage taking `cls` on `topic`."""
        found = self._taking.get((topic, cls))
        if found is None:
            found = self._taking[(topic, cls)] = tuple(
                (i, s, self.rank[s.group]) for i, s in enumerate(self._readers.get(topic, ()), 1)
                if s.takes_type(topic, cls))
        return found

    def _drain(self) -> None:
        while self._heap:
            d = heapq.heappop(self._heap)[2]
            if d.stage.batch:
                self._run_batch(d)
            else:
                self._run(d)

    def _run(self, d: _Delivery) -> None:
        if not d.key:
            return  # an account stage's record without an account key is not for it (as in the agents)
        handler = getattr(self.handlers[d.stage.group], d.stage.handler)
        ctx = _Context(d.stage, d.key, self.facts(), self.tables, _Emitter(self, d.order))
        try:
            run_now(handler(ctx, d.value))
        except Exception as exc:  # noqa: BLE001 - the Faust runner dead-letters any failure and goes on
            self._dead_letter(d, exc)

    def _run_batch(self, first: _Delivery) -> None:
        """`first` and the same stage's next deliveries (up to `batch`), through its batch handler at once."""
        batch = [first]
        while self._heap and self._heap[0][2].stage is first.stage and len(batch) < self.batch:
            batch.append(heapq.heappop(self._heap)[2])
        codec = default_codec()
        items = [Item(d.key, d.value, 0, codec.encode(d.value), d.topic) for d in batch]
        ctx = _BatchContext(self, first.stage, batch)
        run_now(getattr(self.handlers[first.stage.group], first.stage.handler)(ctx, items))
        if ctx.answered != len(batch):
            raise RuntimeError(f"stage {first.stage.name} answered {ctx.answered} of {len(batch)} records")

    def _dead_letter(self, d: _Delivery, error: BaseException | str) -> None:
        self.deadletters.append(dead_letter(topic=d.topic, value=default_codec().encode(d.value), error=error,
                                            service=d.stage.name, ts=getattr(d.value, "ts", 0) or 0,
                                            key=d.key.encode()))


__all__ = ["Item", "LocalHost", "WaitedOnIO", "run_now"]
