"""Strict event-time replay in a Faust worker: one source record at a time, in event-time order, each
one's whole cascade through the worker's agents finished before the next.

The in-process backtest engine (ops/backtest/inprocess.py) replays its inputs by event time and runs
each input's cascade (discovery, router, shard, trading) to the end before the next input. A Faust
worker reads its topics in arrival order instead: a quote can reach the router before the link that
discovery makes of an earlier listing, an event state can reach the shard after quotes it precedes, a
signal can be sized before the fill of the order before it. With `ARBEES_EVENT_TIME_ORDER` set, the
worker's consumer does what the in-process engine does, so both run the same topology on the same
input and emit the same records:

- records of the source topics (`SOURCE_TOPICS`, as the replay wrote them; a record this worker's own
  app wrote there, such as a link from its discovery agent, is not a source) are held, not delivered;
- a held record is released only when (a) every source partition either holds a record or has been
  read to its end, so the lowest held record is the earliest still to come, (b) everything delivered
  before it has been processed (acked), (c) the producer has sent everything, and (d) every other
  partition the worker reads has been read to its end (the agents' outputs are back in: no cascade is
  still going);
- records go out lowest first by (event time, source topic rank, partition, offset), the in-process
  engine's `replay_order`.

This is for replays and backtests, where the input is on the broker before the worker reads it: a
source record produced later with an earlier event time than one already released cannot be put
back in order. Live workers leave it unset and read in arrival order.
"""

from __future__ import annotations

import heapq
import os
import time
from typing import Any, AsyncIterator

import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from schemas.codec import default_codec
from schemas.errors import DecodeError
from schemas.topics import ORIGIN_HEADER
from streams.guarded_consumer import GuardedConsumer, GuardedTransport, OriginProducer

#: The backtest inputs, in the order that breaks event-time ties (ops.backtest.records.INPUT_TOPICS).
SOURCE_TOPICS: tuple[str, ...] = ("events.state", "markets.catalog", "markets.links", "markets.quotes")
log = structlog.get_logger(__name__)

ENV = "ARBEES_EVENT_TIME_ORDER"
#: How long one fetch waits for records while source records are held (the cascade's outputs come back fast).
POLL_S = 0.002
FETCH_WAIT_MS = 5


def enabled(env: dict[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sort_key(topic: str, partition: int, offset: int, value: bytes | None) -> tuple[int, int, int, int]:
    """(event time, topic rank, partition, offset); a value that does not decode goes first (to be dead-lettered)."""
    try:
        ts = int(default_codec().decode(value or b"").ts)  # type: ignore[attr-defined]
    except (DecodeError, AttributeError, ValueError, TypeError):
        ts = -(2**62)
    return ts, SOURCE_TOPICS.index(topic), partition, offset


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
        self._held: list[tuple[tuple[int, int, int, int], TP, Any]] = []
        self._held_per_tp: dict[TP, int] = {}
        self._next: dict[TP, int] = {}  # next offset the fetcher returns, per partition it returned records of
        self._delivered: list[Any] = []  # messages delivered, not yet seen acked

    def _source(self, tp: TP, message: Any) -> bool:
        if tp.topic not in SOURCE_TOPICS:
            return False
        return dict(message.headers or ()).get(ORIGIN_HEADER) != self._origin

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        if self.app.consumer_generation_id != self._generation:  # a rebalance: partitions were sought again
            self._generation = self.app.consumer_generation_id
            self._reset()
        async for tp, message in super().getmany(min(timeout, POLL_S)):
            self._next[tp] = message.offset + 1
            if self._source(tp, message):
                heapq.heappush(self._held, (sort_key(tp.topic, tp.partition, message.offset, message.value), tp, message))
                self._held_per_tp[tp] = self._held_per_tp.get(tp, 0) + 1
                continue
            if not tp.topic.endswith("-changelog"):
                self._delivered.append(message)
            yield tp, message
        if self._held and await self._may_release():
            _, tp, message = heapq.heappop(self._held)
            self._held_per_tp[tp] -= 1
            self._delivered.append(message)
            yield tp, message

    async def _may_release(self) -> bool:
        reason = await self._waiting_for()
        if reason:
            now = time.monotonic()
            if now - self._said > 10:
                self._said = now
                log.info("event-time order: waiting", held=len(self._held), on=reason)
        return not reason

    async def _waiting_for(self) -> str:
        """What keeps the lowest held record back (empty: nothing)."""
        self._delivered = [m for m in self._delivered if not m.acked]
        if self._delivered:
            m = self._delivered[0]
            return f"{len(self._delivered)} delivered records not yet processed, first {m.tp} @{m.offset}"
        await self.app.producer.flush()
        produced = getattr(self.app.producer, "produced", {})
        for tp in self.assignment():
            if tp.topic.endswith("-changelog"):
                continue
            if tp.topic in SOURCE_TOPICS and self._held_per_tp.get(tp, 0) == 0:
                end = self.highwater(tp)  # the last fetch's answer: the source is on the broker before the run
                if end is None or (pos := await self._position(tp)) < end:
                    return f"source {tp} read to {pos if end is not None else '?'} of {end}"
            last = produced.get((tp.topic, tp.partition))
            if last is not None and (pos := await self._position(tp)) <= last:
                return f"{tp} read to {pos}, this worker wrote up to {last}"  # a cascade's output still to read
        self._delivered = [m for m in self._delivered if not m.acked]
        return f"{len(self._delivered)} delivered records not yet processed" if self._delivered else ""

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
