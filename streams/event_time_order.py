"""Strict event-time replay in a Faust worker: one source record at a time, in event-time order, each
one's whole cascade through the worker's agents finished before the next.

The in-process backtest engine (ops/backtest/inprocess.py) replays its inputs by event time and runs
each input's cascade (discovery, router, shard, trading) to the end before the next input. A Faust
worker reads its topics in arrival order instead: a quote can reach the router before the link that
discovery makes of an earlier listing, an event state can reach the shard after quotes it precedes, a
signal can be sized before the fill of the order before it. With `ARBEES_EVENT_TIME_ORDER` set, the
worker's consumer does what the in-process engine does, so both run the same topology on the same
input and emit the same records:

- source records are held, not delivered: every record this worker's own app did not write (the
  replayed input, the bankroll deposit, whatever another producer put on a topic it reads); its own
  outputs, such as the links its discovery agent writes to `markets.links`, flow through at once;
- a held record is released only when (a) every partition the worker reads either holds a held record or has been
  read to its end, so the lowest held record is the earliest still to come, (b) everything delivered
  before it has been processed (acked), (c) the producer has sent everything, and (d) every partition
  the worker both writes and reads has been read past the last record it wrote there (the agents'
  outputs are back in: no cascade is still going);
- records go out lowest first by (event time, source topic rank, partition, offset), the in-process
  engine's `replay_order`, each partition in offset order (its first held record competes; Faust
  drops a record below a partition's read offset);
- the shard's `signals` are held too and released one at a time once everything else of the source
  record's cascade is done: the in-process engine hands trading a source record's market data first,
  then the signals it triggered, each with its whole cascade (two agents write the trading inbox, and
  a signal sized before the fill its quote made would see another bankroll).

This is for replays and backtests, where the input is on the broker before the worker reads it: a
source record produced later with an earlier event time than one already released cannot be put
back in order. Live workers leave it unset and read in arrival order.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, AsyncIterator

import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from schemas.codec import default_codec
from schemas.errors import DecodeError
from schemas.topics import ORIGIN_HEADER
from streams.guarded_consumer import GuardedConsumer, GuardedTransport, OriginProducer
from streams.topology import HELD

#: The backtest inputs, in the order that breaks event-time ties (ops.backtest.records.INPUT_TOPICS).
SOURCE_TOPICS: tuple[str, ...] = ("events.state", "markets.catalog", "markets.links", "markets.quotes")
log = structlog.get_logger(__name__)

ENV = "ARBEES_EVENT_TIME_ORDER"
#: How long one fetch waits for records while source records are held (the cascade's outputs come back fast).
POLL_S = 0.002
FETCH_WAIT_MS = 5


def enabled(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sort_key(topic: str, partition: int, offset: int, value: bytes | None) -> tuple[int, int, int, int]:
    """(event time, topic rank, partition, offset); a value that does not decode goes first (to be dead-lettered).
    Topics other than the backtest inputs rank after them (a bankroll deposit, another worker's outputs)."""
    try:
        ts = int(default_codec().decode(value or b"").ts)  # type: ignore[attr-defined]
    except (DecodeError, AttributeError, ValueError, TypeError):
        ts = -(2**62)
    return ts, SOURCE_TOPICS.index(topic) if topic in SOURCE_TOPICS else len(SOURCE_TOPICS), partition, offset


class _PromptFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Fetch requests the broker answers within `FETCH_WAIT_MS` even when empty. Faust asks for 1.5 s: a fetch
    in flight for other partitions then keeps a cascade's next record (on a partition just drained) waiting
    that long, once per hop."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS
        return consumer


class OrderedConsumer(GuardedConsumer):
    """The guarded consumer, releasing source records one cascade at a time in event-time order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._origin = str(self.app.conf.id).encode()
        self._generation: Any = object()
        self._said = 0.0
        self._reset()

    def _new_consumer_thread(self) -> Any:
        return _PromptFetchThread(self, loop=self.loop, beacon=self.beacon)

    def _reset(self) -> None:
        #: per partition, the records not yet delivered, in offset order: (sort key, own cascade record?, message).
        #: A partition is delivered in offset order (Faust drops a record below its read offset), so only heads compete.
        self._held: dict[TP, deque[tuple[tuple[int, int, int, int], bool, Any]]] = {}
        self._next: dict[TP, int] = {}  # next offset the fetcher returns, per partition it returned records of
        self._delivered: list[Any] = []  # messages delivered, not yet seen acked

    def on_held_back(self, message: Any) -> None:
        try:
            self._delivered.remove(message)  # never acked: waiting for it would hold every later release
        except ValueError:
            pass

    def _own(self, message: Any) -> bool:
        return dict(message.headers or ()).get(ORIGIN_HEADER) == self._origin

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        if self.app.consumer_generation_id != self._generation:  # a rebalance: partitions were sought again
            self._generation = self.app.consumer_generation_id
            self._reset()
        async for tp, message in super().getmany(min(timeout, POLL_S)):
            self._next[tp] = message.offset + 1
            if tp.topic.endswith("-changelog"):
                yield tp, message
                continue
            own, queue = self._own(message), self._held.get(tp)
            if own and not queue and tp.topic not in HELD:
                self._delivered.append(message)  # a cascade's output: on at once
                yield tp, message
                continue
            if queue is None:
                queue = self._held[tp] = deque()
            queue.append((sort_key(tp.topic, tp.partition, message.offset, message.value), own, message))
        if not any(self._held.values()):
            return
        reason = await self._busy()
        heads = [(q[0][0], tp) for tp, q in self._held.items() if q]
        cascade = [h for h in heads if self._held[h[1]][0][1]]
        if not reason and cascade:  # the current source record's signals (its own outputs), one at a time
            tp = min(cascade)[1]
        elif not reason and not (reason := await self._sources_pending()):
            tp = min(heads)[1]
        else:
            now = time.monotonic()
            if now - self._said > 10:
                self._said = now
                log.info("event-time order: waiting", held=sum(len(q) for q in self._held.values()), on=reason)
            return
        message = self._held[tp].popleft()[2]
        self._delivered.append(message)
        yield tp, message

    async def _busy(self) -> str:
        """What of the cascades released so far is still going (empty: nothing)."""
        self._delivered = [m for m in self._delivered if not m.acked]
        if self._delivered:
            m = self._delivered[0]
            return f"{len(self._delivered)} delivered records not yet processed, first {m.tp} @{m.offset}"
        await self.app.producer.flush()
        produced = getattr(self.app.producer, "produced", {})
        for tp in self.assignment():
            last = produced.get((tp.topic, tp.partition))
            if last is not None and not tp.topic.endswith("-changelog") and (pos := await self._position(tp)) <= last:
                return f"{tp} read to {pos}, this worker wrote up to {last}"  # a cascade's output still to read
        self._delivered = [m for m in self._delivered if not m.acked]
        return f"{len(self._delivered)} delivered records not yet processed" if self._delivered else ""

    async def _sources_pending(self) -> str:
        """A partition with nothing held and records still to read: its next record may come first."""
        for tp in self.assignment():
            if not tp.topic.endswith("-changelog") and not self._held.get(tp):
                end = self.highwater(tp)  # the last fetch's answer: the source is on the broker before the run
                if end is None:
                    return f"{tp}: log end not known yet"
                if (pos := await self._position(tp)) < end:
                    return f"{tp} read to {pos} of {end}"
        return ""

    async def _position(self, tp: TP) -> int:
        known = self._next.get(tp)
        if known is None:
            known = int(await self.position(tp) or 0)
            self._next[tp] = known
        return known


class OrderedProducer(OriginProducer):
    """Remembers the offset of the last record it wrote to each partition (the consumer waits until it read them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.produced: dict[tuple[str, int], int] = {}

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any, *, transactional_id: str | None = None) -> Any:
        fut = await super().send(topic, key, value, partition, timestamp, headers, transactional_id=transactional_id)
        fut.add_done_callback(self._written)
        return fut

    def _written(self, fut: Any) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        md = fut.result()
        where = (md.topic, md.partition)
        self.produced[where] = max(self.produced.get(where, -1), md.offset)


class OrderedTransport(GuardedTransport):
    Consumer = OrderedConsumer
    Producer = OrderedProducer
