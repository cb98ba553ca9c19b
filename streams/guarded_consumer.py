"""Faust's aiokafka consumer with the rewind guard of `streams.rewind` wired in, and a producer stamping its origin."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from schemas.topics import ORIGIN_HEADER, TOPICS
from streams.producer_buffer import DrainingBuffer
from streams.recovery_watch import RecoveryWatch
from streams.rewind import RewindTracker, skips_unacked

log = structlog.get_logger(__name__)

_COMPACTED = frozenset(t.name for t in TOPICS if "compact" in t.cleanup)


def compacted(topic: str) -> bool:
    """Where Kafka itself removes records, so a jump in offsets is expected (table changelogs included)."""
    return topic in _COMPACTED or changelog(topic)


def changelog(topic: str) -> bool:
    """A table's changelog: read by Faust's recovery and standbys, never acked or committed by the group."""
    return topic.endswith("-changelog")


async def _held_back() -> None:
    """A message held back during a rewind: not delivered, so never acked, and read again."""


class _ReadOffsets(defaultdict):  # type: ignore[type-arg]
    """Faust's per-partition read offsets, held just before a missing offset while it is read again."""

    def __init__(self, tracker: RewindTracker) -> None:
        super().__init__(lambda: None)
        self._tracker = tracker

    def __setitem__(self, tp: Any, offset: Any) -> None:
        if changelog(getattr(tp, "topic", "")):
            # A changelog's read position is its last seek's alone (`GuardedConsumer.seek_wait`): a standby record
            # fetched before recovery sought the partition back recorded itself as read after the seek, and Faust
            # then dropped the whole re-read as already read (the active table never recovered; a stall in
            # tests/integration/test_rebalance.py). Changelog records apply idempotently in log order, so a record
            # delivered twice costs nothing.
            return
        super().__setitem__(tp, self._tracker.read_offset(tp, offset, self.get(tp)))

    def reset(self, tp: Any, offset: int | None) -> None:
        """The consumer's own record of a seek: not a message read, so nothing the tracker holds applies."""
        super().__setitem__(tp, offset)


class GuardedConsumer(faust_aiokafka.Consumer):
    """Faust's consumer that never commits over undelivered offsets and never forgets a commit of its own.

    Faust's recovery resumes the stream partitions before its seek to the committed offsets has read them
    from the broker, so records are delivered, acked and committed while that read is in flight; the
    read's older answer then overwrote Faust's record of the committed offset. Faust commits only a run
    of acked offsets that starts next to that record, and the run it had committed was already off its
    acked list: the partition never committed again while the worker ran (the `make chaos` stall of
    issue 16). A commit and the seek's read-and-record now exclude each other. Records delivered
    before the seek can still be dropped by Faust as already read while never acked (the same
    stall, met by tests/integration/test_commit_after_seek.py): a partition whose commit sits behind
    never-acked offsets is read again from its committed offset, once per stall (`RewindTracker.stalled`).
    Around a rebalance (README, Reliability): a commit never passes an unacked committed offset, a newly
    assigned partition delivers nothing before its seek, and Faust's record of what was read never
    outlives a seek that overtook it. Compacted topics (`markets.catalog`, `markets.links`) get the same
    hold until their seek; only gaps in them stay Faust's (compaction removes offsets). A partition
    whose last fetched records never reached an agent is read again (`RewindTracker.idle_behind`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._offsets_lock = asyncio.Lock()
        self._rewind = RewindTracker(compacted)
        self._recovery_watch = RecoveryWatch()
        self._reseeks: set[asyncio.Future[None]] = set()
        self._read_offset = _ReadOffsets(self._rewind)
        # tp -> highest offset handed to Faust's drain since its last seek (by the outermost getmany: a subclass may
        # hold records back itself, streams.event_time_order)
        self._fetched: dict[TP, int] = {}
        self.getmany = self._tracking(self.getmany)  # type: ignore[method-assign,assignment]
        # delivered to the agents' queues: Faust tracks a message as unacked only once a stream takes it from there
        self._queued: weakref.WeakSet[Any] = weakref.WeakSet()
        deliver = self.callback
        queued = self._queued.add

        def guarded(message: Any) -> Awaitable[None]:
            # the delivery coroutine itself, not a wrapper around it: this runs for every message
            if self._rewind.admit(message.tp, message.offset):
                queued(message)
                return deliver(message)
            self.on_held_back(message)
            return _held_back()

        self.callback = guarded

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        """Never a negative seek: Faust's recovery asked for one on a standby changelog partition when a worker
        joined as the shard family grew (tests/e2e/test_scale.py); aiokafka refused it, the recovery crashed
        and stopped the worker. Faust maps -1 (nothing read) to 0 itself; anything before the first offset is
        the beginning."""
        # None: a standby partition assigned by a rebalance after recovery built its offsets (Faust then seeks it with
        # the None it set as a placeholder; a worker joining the grown shard family crashed on it): its beginning
        targets = {tp: max(offset if offset is not None else 0, 0) for tp, offset in partitions.items()}
        await super().seek_wait(targets)
        for tp, offset in targets.items():
            if changelog(tp.topic):
                self._read_offset.reset(tp, offset or None)  # Faust's own record of the seek (_ReadOffsets ignores it)

    def verify_recovery_event_path(self, now: float, tp: TP) -> None:
        """Faust asks this every 5 s of each active changelog partition its recovery still waits on: one that has not
        moved for the watch's patience is sought again to where recovery stands, so a lost fetch or a re-read dropped
        as read cannot hold the worker in recovery for good."""
        super().verify_recovery_event_path(now, tp)
        recovery = self.app.tables.recovery
        offset, highwater = recovery.active_offsets.get(tp, -1), recovery.active_highwaters.get(tp, -1)
        if not self._recovery_watch.stuck(tp, offset, highwater, now):
            return
        log.error("recovery received nothing of a changelog partition; reading it again", topic=tp.topic,
                  partition=tp.partition, offset=offset, highwater=highwater)
        self._read_offset.reset(tp, None)
        task = asyncio.ensure_future(self.seek_wait({tp: offset + 1}))
        self._reseeks.add(task)  # the loop keeps only a weak reference to a task: hold it until it is done
        task.add_done_callback(self._reseeks.discard)

    def on_held_back(self, message: Any) -> None:
        """A message this consumer returned was not delivered (it is read again): it will never be acked."""

    def _tracking(self, getmany: Callable[[float], AsyncIterator[tuple[TP, Any]]]
                  ) -> Callable[[float], AsyncIterator[tuple[TP, Any]]]:
        fetched = self._fetched

        async def tracked(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
            async for tp, message in getmany(timeout):
                if message.offset > fetched.get(tp, -1):
                    fetched[tp] = message.offset
                yield tp, message
        return tracked

    async def perform_seek(self) -> None:
        async with self._offsets_lock:
            await super().perform_seek()
            for tp in self.assignment():
                if changelog(tp.topic):
                    continue
                self._fetched.pop(tp, None)  # counted afresh from what the seek reads
                committed = self._read_offset.get(tp)
                again = self._rewind.seeked(tp, committed)
                if committed is not None and not compacted(tp.topic):
                    # Faust records the committed offset as read: a jump right after the seek was read again from
                    # one past it, and the record at the committed offset itself was never delivered (a compacted
                    # topic keeps Faust's record: its gaps start one past the committed offset, which may be gone)
                    self._read_offset.reset(tp, committed - 1)
                if again is not None:
                    await self._read_again(tp, again)

    async def _read_again(self, tp: TP, offset: int) -> None:
        """Seek the client back to `offset`, to be delivered next (compacted: Faust's record of a seek)."""
        self._fetched.pop(tp, None)
        self._read_offset.reset(tp, offset if compacted(tp.topic) else offset - 1)
        await self._seek(tp, offset)  # type: ignore[arg-type]

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        for tp in assigned:
            if not changelog(tp.topic):
                self._rewind.assigned(tp)  # held back until the seek to its committed offset
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._rewind.forget(tp)  # a rewind or floor of this generation means nothing to the next owner
            self._fetched.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        async with self._offsets_lock:
            await self._read_stalled_again()
            return await super().force_commit(topics, start_new_transaction=start_new_transaction)

    async def _read_stalled_again(self) -> None:
        assigned = self.assignment()
        await self._read_idle_again(assigned)
        for tp, acked in list(self._acked.items()):
            if tp not in assigned or compacted(tp.topic):
                continue
            committed = self._committed(tp)
            if not self._rewind.stalled(tp, committed, min(acked) if acked else None):
                continue
            earliest = (await self.earliest_offsets(tp)).get(tp, 0)
            if committed < earliest and self._committed_offset.get(tp) is None:
                # the 0 it was sought to is gone (retention): the client read from the log start, as a group with
                # nothing committed does; commit from there
                self._rewind.raise_floor(tp, earliest)
                continue
            if committed < earliest:  # retention removed them: nothing to read again, Faust's stall stands
                log.error("commits stalled behind offsets retention removed", topic=tp.topic, partition=tp.partition,
                          committed=committed, earliest=earliest)
                continue
            log.error("commits stalled behind offsets never acked; reading them again", topic=tp.topic,
                      partition=tp.partition, committed=committed, lowest_acked=min(acked))
            self._rewind.on_gap(tp.topic, tp, committed)
            await self._read_again(tp, committed)

    async def _read_idle_again(self, assigned: set[TP]) -> None:
        behind = [(tp, fetched, committed) for tp, fetched in self._fetched.items() if tp in assigned
                  and not changelog(tp.topic) and (committed := self._committed(tp)) is not None]
        if not behind:
            return
        busy = {m.tp for m in list(self._queued) if not m.acked} | {tp for tp, acked in self._acked.items() if acked}
        for tp, fetched, committed in behind:
            if not self._rewind.idle_behind(tp, committed, fetched, tp in busy):
                continue
            log.error("records fetched and never delivered; reading them again", topic=tp.topic,
                      partition=tp.partition, committed=committed, fetched=fetched)
            self._rewind.on_gap(tp.topic, tp, committed)
            await self._read_again(tp, committed)

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's next commit of `tp`, never over its committed offset while that one is unacked.

        Faust's own test lets a run of acked offsets one past the committed offset through, so a record
        its agent had not finished (delivered after the next one was acked, around a rebalance) was
        committed over and never read again (streams.rewind says how a commit that waits is unstuck).
        """
        acked = self._acked.get(tp)
        if acked and not compacted(tp.topic) and skips_unacked(self._committed(tp), min(acked)):
            return None
        return super()._new_offset(tp)

    def _committed(self, tp: TP) -> int | None:
        """The group's committed offset of `tp`: Faust's record, or, where that says None, the offset the partition
        was sought to (Faust records a committed 0 as None, which turned off every guard above on a fresh topic:
        a record at offset 0 fetched and never delivered left the group idle behind it for good, in
        test_group_recovery's trading test on a freshly started stack)."""
        committed = self._committed_offset.get(tp)
        return committed if committed is not None else self._rewind.floor(tp)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        before = self._rewind.rewinding(tp)
        if not self._rewind.on_gap(tp.topic, tp, offset_from):
            await super()._add_gap(tp, offset_from, offset_to)
            return
        want = self._rewind.rewinding(tp)
        if want != before:  # once per episode: the messages still buffered after the jump report it again
            log.error("consumer jumped over offsets; reading them again", topic=tp.topic, partition=tp.partition,
                      missing_from=want, seen=offset_to)
        await self._seek(tp, want)  # type: ignore[arg-type]


class OriginProducer(faust_aiokafka.Producer):
    """Stamps every record with the app id that produced it (`ORIGIN_HEADER`), and flushes for real.

    Outputs are deterministic, so two workers of different groups reading the same input write
    identical records; a reader that wants one worker's outputs (the Kafka backtest) needs this.
    Its buffer is a `DrainingBuffer`: the flush before each offset commit waits for every table
    change (streams.producer_buffer says why Faust's own may not).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        threaded = getattr(self.buffer, "threaded_producer", None)
        self.buffer = DrainingBuffer(loop=self.loop, beacon=self.beacon)
        if threaded is not None:
            self.buffer.threaded_producer = threaded
        self.buffer.app = self.app

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any, *, transactional_id: str | None = None) -> Any:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        if not any(k == ORIGIN_HEADER for k, _ in pairs):
            pairs.append((ORIGIN_HEADER, str(self.app.conf.id).encode()))
        return await super().send(topic, key, value, partition, timestamp, pairs, transactional_id=transactional_id)


class GuardedTransport(faust_aiokafka.Transport):
    Consumer = GuardedConsumer
    Producer = OriginProducer
