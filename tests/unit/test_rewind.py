"""The rewind guard: a jump in a delete-policy partition is read again, never committed over."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree

from streams.guarded_consumer import GuardedConsumer, _ReadOffsets, compacted
from streams.rewind import RewindTracker, skips_unacked


def drain(tracker: RewindTracker, offsets: list[int], read: _ReadOffsets, tp: str = "signals/11") -> list[int]:
    """Faust's drain loop in miniature: drop what was read, record gaps, deliver what the guard admits."""
    delivered = []
    for offset in offsets:
        r = read[tp]
        if r is not None and offset < r:
            continue  # Faust: already read
        if r is not None and offset - r > 1:
            tracker.on_gap(getattr(tp, "topic", "signals"), tp, r + 1)
        if tracker.admit(tp, offset):
            delivered.append(offset)
        read[tp] = offset
    return delivered


def test_the_crash_test_sequence_reads_the_skipped_offsets_again() -> None:
    # observed after a restart: 72..80 delivered, then the fetch resumed at 83 (81, 82 never seen)
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    first = drain(tracker, [*range(72, 81), 83, 84], read)
    assert first == list(range(72, 81))  # 83 and 84 are held back, so never acked
    assert tracker.rewinding("signals/11") == 81 and read["signals/11"] == 80
    again = drain(tracker, [81, 82, 83, 84, 85], read)  # after the seek back to 81
    assert again == [81, 82, 83, 84, 85]
    assert tracker.rewinding("signals/11") is None and read["signals/11"] == 85


def test_compacted_topics_keep_faust_gaps() -> None:
    tracker = RewindTracker(compacted)
    assert not tracker.on_gap("markets.links", "markets.links/0", 10)
    assert not tracker.on_gap("app-trading-sizing-changelog", "c/0", 10)
    assert tracker.admit("markets.links/0", 12)
    assert tracker.on_gap("signals", "signals/0", 10)


def test_offsets_before_the_missing_one_still_flow_in_order() -> None:
    tracker = RewindTracker(compacted)
    tracker.on_gap("orders", "orders/1", 50)
    assert tracker.admit("orders/1", 48) and tracker.admit("orders/1", 49)  # a rebalance re-read from earlier
    assert not tracker.admit("orders/1", 51)
    assert tracker.admit("orders/1", 50) and tracker.admit("orders/1", 51)


def test_a_second_gap_rewinds_to_the_earliest_missing_offset() -> None:
    tracker = RewindTracker(compacted)
    tracker.on_gap("orders", "orders/1", 50)
    tracker.on_gap("orders", "orders/1", 47)
    assert tracker.rewinding("orders/1") == 47


def test_the_app_consumes_through_the_guarded_consumer() -> None:
    from streams.app import app

    assert app.transport.Consumer is GuardedConsumer


def test_a_commit_stalled_behind_never_acked_offsets_is_read_again_after_patience() -> None:
    # the chaos run's router: Faust's record said 37 committed, its acked list began at 90 (37..89 lost)
    tracker = RewindTracker(compacted, patience=3)
    assert [tracker.stalled("markets.quotes/1", 37, 90) for _ in range(3)] == [False, False, True]
    assert tracker.on_gap("markets.quotes", "markets.quotes/1", 37) and tracker.rewinding("markets.quotes/1") == 37
    assert not tracker.stalled("markets.quotes/1", 37, 90)  # already reading them again
    assert tracker.admit("markets.quotes/1", 37)  # read: but a long backlog of the agent still holds them
    assert not any(tracker.stalled("markets.quotes/1", 37, 90) for _ in range(6))  # read again once per stall
    assert not tracker.stalled("markets.quotes/1", 95, 120)  # the commit moved: a new stall counts afresh
    assert [tracker.stalled("markets.quotes/1", 95, 120) for _ in range(2)] == [False, True]


def test_a_commit_that_moves_or_a_run_next_to_it_is_not_a_stall() -> None:
    tracker = RewindTracker(compacted, patience=2)
    assert not tracker.stalled("tp", 37, 90)
    assert not tracker.stalled("tp", 40, 90)  # the commit moved: counting starts again
    assert tracker.stalled("tp", 40, 90)
    assert not any(tracker.stalled("tp", 37, 37) for _ in range(5))  # a run from the committed offset commits
    assert [tracker.stalled("tp", 50, 51) for _ in range(2)] == [False, True]  # one unacked offset is a stall too
    # committed 0 (a fresh partition; the consumer passes it from the seek, Faust's record says None) is a stall too
    assert [tracker.stalled("tp0", 0, 90) for _ in range(2)] == [False, True]
    assert not any(tracker.stalled("tp1", None, 90) for _ in range(5))  # nothing committed: nothing to hold to
    assert not any(tracker.stalled("tp", 37, None) for _ in range(5))  # nothing acked yet


def test_a_commit_never_passes_over_the_unacked_committed_offset() -> None:
    assert not skips_unacked(37, 37) and not skips_unacked(37, 12)
    assert skips_unacked(37, 38)  # Faust's own test commits this run, over 37
    assert not skips_unacked(None, 38)  # nothing committed yet (or offset 0): no record to hold to


class _Bookkeeping(GuardedConsumer):
    """Only the offset bookkeeping of the guarded consumer (no app, no client)."""

    def __init__(self, committed: dict[Any, int | None]) -> None:  # noqa: D107 - skips Faust's service setup
        self._acked = defaultdict(list)
        self._acked_index = defaultdict(set)
        self._gap = defaultdict(IntervalTree)
        self._committed_offset = defaultdict(lambda: None, committed)
        self._read_offset = _ReadOffsets(RewindTracker(compacted))


def test_the_consumer_commits_a_run_only_from_its_committed_offset() -> None:
    quotes, changelog = TP("shard.inputs", 4), TP("app-shard-state-changelog", 4)
    consumer = _Bookkeeping({quotes: 1002, changelog: 1002})
    consumer._acked[quotes].extend([1003, 1004])  # the successor acked 1003 before 1002 came back
    assert consumer._new_offset(quotes) is None
    consumer._acked[quotes].append(1002)
    assert consumer._new_offset(quotes) == 1005
    consumer._acked[changelog].extend([1003, 1004])  # compaction removes offsets: Faust's own rule stands
    assert consumer._new_offset(changelog) == 1005


def test_after_a_seek_a_jump_is_read_again_from_the_committed_offset_itself() -> None:
    # the rebalance bench: sought to 3075, the fetch from before the seek went on at 3104
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    tracker.seeked("signals/4", 3075)
    read.reset("signals/4", 3074)  # what the consumer records at its seek: the record before the committed one
    assert drain(tracker, [3104, 3105], read, "signals/4") == []
    assert tracker.rewinding("signals/4") == 3075  # not 3076: the committed offset was never delivered
    assert drain(tracker, [3073, 3074, *range(3075, 3106)], read, "signals/4") == list(range(3075, 3106))


def test_a_seek_or_a_revocation_ends_a_rewind_of_the_generation_before() -> None:
    tracker = RewindTracker(compacted)
    tracker.on_gap("signals", "signals/4", 3076)
    tracker.seeked("signals/4", 3200)  # another worker committed past it meanwhile
    assert tracker.rewinding("signals/4") is None
    assert tracker.admit("signals/4", 3200) and not tracker.admit("signals/4", 3199)
    tracker.on_gap("signals", "signals/4", 3300)
    tracker.forget("signals/4")  # revoked: held back from 3301 on forever, had it stayed
    assert tracker.rewinding("signals/4") is None and tracker.admit("signals/4", 3199) and tracker.admit("signals/4", 3400)


def test_nothing_is_delivered_between_an_assignment_and_its_seek() -> None:
    # Faust resumes the stream partitions before it seeks them: the fetch from where the client stood came first
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    tracker.assigned("signals/4")
    assert drain(tracker, [3075, 3076, 3077], read, "signals/4") == []
    assert tracker.seeked("signals/4", 3075) == 3075  # held records are fetched again from the committed offset
    read.reset("signals/4", 3074)
    assert drain(tracker, [3078, *range(3075, 3080)], read, "signals/4") == list(range(3075, 3080))
    tracker.assigned("signals/5")
    assert not tracker.admit("signals/5", 12)
    assert tracker.seeked("signals/5", None) == 12  # no commit yet: fetched again from the first held back
    tracker.assigned("signals/5")
    assert tracker.seeked("signals/5", None) is None  # nothing held: the client's position stands
    assert tracker.admit("signals/5", 0) and tracker.admit("signals/5", 7)


def test_a_message_held_before_the_seek_leaves_the_seeks_read_offset_alone() -> None:
    # the rebalance bench: 5330..5346 held before the seek; the seek ran while 5346's delivery was awaited, and
    # Faust's record of 5346 as read, made after it, then dropped everything the seek read again
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    tracker.assigned("signals/3")
    assert drain(tracker, list(range(5330, 5346)), read, "signals/3") == []
    assert not tracker.admit("signals/3", 5346)  # its delivery is awaited ...
    tracker.seeked("signals/3", 5330)  # ... when the seek runs
    read.reset("signals/3", 5329)
    read["signals/3"] = 5346  # Faust records it as read after the delivery returns
    assert read["signals/3"] == 5329
    delivered = drain(tracker, [5347, 5348, *range(5330, 5349)], read, "signals/3")  # the fetch went on, then the seek's
    assert delivered == list(range(5330, 5349)) and tracker.rewinding("signals/3") is None


def test_a_delivery_a_seek_overtook_is_read_again_in_order() -> None:
    # the rebalance bench: 6100 was in delivery when Faust's second seek (to 6097) ran, and never reached the agent;
    # recorded as read after the seek, the seek's re-read dropped 6097..6100 and 6101 went on without it
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    tracker.assigned("signals/0")
    tracker.seeked("signals/0", 6097)
    read.reset("signals/0", 6096)
    assert drain(tracker, [6097, 6098, 6099], read, "signals/0") == [6097, 6098, 6099]
    assert tracker.admit("signals/0", 6100)  # in delivery ...
    tracker.seeked("signals/0", 6097)  # ... when the second seek runs
    read.reset("signals/0", 6096)
    read["signals/0"] = 6100
    assert read["signals/0"] == 6096
    assert drain(tracker, [6101, *range(6097, 6103)], read, "signals/0") == list(range(6097, 6103))


def test_a_recovery_seek_before_the_first_offset_reads_from_the_beginning() -> None:
    seeks: list[dict[Any, int]] = []

    class _Thread:
        async def seek_wait(self, partitions: dict[Any, int]) -> None:
            seeks.append(dict(partitions))

    consumer = _Bookkeeping({})
    consumer._thread = _Thread()
    changelog = TP("app-shard-state-g1-changelog", 17)  # seen in test_scale: a standby seek below zero
    late = TP("app-shard-state-g1-changelog", 9)  # a standby assigned after recovery built its offsets: None
    asyncio.run(consumer.seek_wait({changelog: -2, TP("app-shard-state-g1-changelog", 3): 40, late: None}))
    assert seeks == [{changelog: 0, TP("app-shard-state-g1-changelog", 3): 40, late: 0}]
    # the seek's own record of what was read, which a delivery never overwrites on a changelog
    assert consumer._read_offset.get(changelog) is None and consumer._read_offset[TP("app-shard-state-g1-changelog", 3)] == 40


def test_a_partition_idle_behind_its_fetched_records_is_read_again_after_patience() -> None:
    tracker = RewindTracker(compacted, patience=3)
    tp = "discovery-scoped/2"
    assert [tracker.idle_behind(tp, 40, 41, busy=False) for _ in range(3)] == [False, False, True]
    assert not tracker.idle_behind(tp, 40, 41, busy=True)  # one of them reached an agent: counting starts again
    assert not tracker.idle_behind(tp, 40, 41, busy=False)
    assert not tracker.idle_behind(tp, 40, 42, busy=False)  # another fetched since: counting starts again
    assert not tracker.idle_behind(tp, 43, 42, busy=False)  # everything fetched is committed
    assert not any(tracker.idle_behind(tp, None, 42, busy=False) for _ in range(5))  # no commit: nowhere to read from
    tracker.on_gap("signals", tp, 43)
    assert not any(tracker.idle_behind(tp, 43, 45, busy=False) for _ in range(5))  # already reading them again
    tracker.forget(tp)
    tracker.assigned(tp)
    assert not any(tracker.idle_behind(tp, 43, 45, busy=False) for _ in range(5))  # held until its seek reads them


class _Message:
    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.offset, self.acked = tp, offset, False


class _Seeking(_Bookkeeping):
    """The offset bookkeeping plus a client that records seeks and a set assignment."""

    def __init__(self, committed: dict[Any, int | None]) -> None:  # noqa: D107
        super().__init__(committed)
        self._rewind = RewindTracker(compacted, patience=2)
        self._read_offset = _ReadOffsets(self._rewind)
        self._fetched, self._queued = {}, weakref.WeakSet()
        self._offsets_lock = asyncio.Lock()
        self.seeks: list[tuple[TP, int]] = []
        self.assigned = set(committed)

    def assignment(self) -> set[TP]:
        return self.assigned

    async def _seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_committed(self) -> dict[TP, int]:
        return {tp: c for tp, c in self._committed_offset.items() if c is not None}


def test_the_last_records_of_a_partition_that_never_reached_an_agent_are_read_again() -> None:
    # discovery's restarted worker (tests/integration/test_group_recovery.py): two listings fetched, none delivered
    # to its agent, nothing after them to ack past the hole: the group idled two records behind its log end
    scoped, links = TP("app-discovery-scoped", 2), TP("markets.links", 5)
    consumer = _Seeking({scoped: 40, links: 7})
    consumer._fetched.update({scoped: 41, links: 9})
    kept = _Message(links, 8)
    consumer._queued.add(kept)  # delivered to its agent's queue, not yet taken: busy, not idle
    for _ in range(3):
        asyncio.run(consumer._read_idle_again(consumer.assignment()))
    assert consumer.seeks == [(scoped, 40)]
    assert consumer._read_offset[scoped] == 39 and consumer._rewind.rewinding(scoped) == 40
    assert scoped not in consumer._fetched  # counted afresh from what the seek reads
    kept.acked = True
    for _ in range(2):
        asyncio.run(consumer._read_idle_again(consumer.assignment()))
    assert consumer.seeks == [(scoped, 40), (links, 7)]
    assert consumer._read_offset[links] == 7  # compacted: Faust's record of a seek, its gaps start one past it


def test_compacted_topics_deliver_nothing_between_an_assignment_and_its_seek(monkeypatch: Any) -> None:
    from faust.transport.drivers import aiokafka as faust_aiokafka

    async def faust_assigns(self: Any, assigned: Any, generation_id: int = 0) -> None:
        return None

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_assigned", faust_assigns)
    catalog, changelog = TP("markets.catalog", 3), TP("app-discovery-scopes-changelog", 3)
    consumer = _Seeking({catalog: 120, changelog: 0})
    asyncio.run(consumer.on_partitions_assigned({catalog, changelog}))
    assert not consumer._rewind.admit(catalog, 121)  # fetched from where the client stood: held
    assert consumer._rewind.admit(changelog, 5)  # Faust's recovery reads changelogs itself
    asyncio.run(consumer.perform_seek())
    assert consumer.seeks == [(catalog, 120)]  # what was held is fetched again from the committed offset
    assert consumer._read_offset[catalog] == 120
    assert not consumer._rewind.admit(catalog, 119) and consumer._rewind.admit(catalog, 120)


def test_a_changelog_re_read_after_recovery_seeks_it_back_is_never_dropped_as_read() -> None:
    # test_rebalance's stall: the standby copy had read to 113; recovery sought the partition, now active, to 0;
    # a standby record fetched before that seek recorded itself as read after it, and Faust dropped 0..113
    tracker = RewindTracker(compacted)
    read = _ReadOffsets(tracker)
    tp = TP("app-shard-state-changelog", 4)
    assert drain(tracker, list(range(100, 112)), read, tp) == list(range(100, 112))
    read.reset(tp, None)  # recovery's seek to 0 (GuardedConsumer.seek_wait)
    assert drain(tracker, [112, 113], read, tp) == [112, 113]  # fetched before the seek, delivered after it
    assert read[tp] is None
    assert drain(tracker, list(range(0, 114)), read, tp) == list(range(0, 114))  # the re-read, every record applied
    read.reset(tp, 50)  # a seek past the start (a persistent store's offset): what lies before it is still dropped
    assert drain(tracker, [20, 21, *range(50, 53)], read, tp) == [50, 51, 52]
    quotes = TP("shard.inputs", 4)  # a stream partition keeps Faust's read record
    drain(tracker, [7, 8], read, quotes)
    assert read[quotes] == 8


def test_a_recovery_that_does_not_move_is_read_again_once_per_patience() -> None:
    from streams.recovery_watch import RecoveryWatch

    watch = RecoveryWatch(patience_s=15.0)
    tp = TP("app-shard-state-changelog", 4)
    assert [watch.stuck(tp, -1, 113, t) for t in (0.0, 5.0, 10.0)] == [False, False, False]
    assert watch.stuck(tp, -1, 113, 15.0)  # nothing arrived for 15 s: read it again
    assert not watch.stuck(tp, -1, 113, 20.0) and watch.stuck(tp, -1, 113, 30.0)  # and again after another 15 s
    assert not watch.stuck(tp, 40, 113, 35.0)  # it moved: the patience starts again
    assert not any(watch.stuck(tp, 40, 113, t) for t in (40.0, 45.0)) and watch.stuck(tp, 40, 113, 50.0)
    assert not any(watch.stuck(tp, 113, 113, t) for t in (60.0, 80.0, 100.0))  # at the highwater: done, not stuck


def test_a_fresh_partitions_first_record_is_never_committed_over_nor_left_behind() -> None:
    """test_group_recovery's trading test on a freshly started stack: every partition committed at 0, which Faust
    records as None; the record at offset 0 was fetched and never delivered, and with the guards reading Faust's
    None the group idled behind it for good (and a run from offset 1 would have been committed over it)."""
    tp = TP("ledger", 3)
    consumer = _Bookkeeping({tp: None})  # Faust's record of a committed 0
    consumer._rewind = RewindTracker(compacted, patience=2)
    consumer._rewind.seeked(tp, 0)  # what perform_seek tells the tracker: sought to the committed offset 0
    assert consumer._committed(tp) == 0
    consumer._acked[tp].extend([1, 2])  # offset 0 not acked (never delivered)
    assert consumer._new_offset(tp) is None  # not committed over
    assert consumer._rewind.idle_behind(tp, consumer._committed(tp), 2, busy=False) is False
    assert consumer._rewind.idle_behind(tp, consumer._committed(tp), 2, busy=False) is True  # read again from 0
    consumer._acked[tp].insert(0, 0)
    assert consumer._new_offset(tp) == 3
    # the 0 it was sought to is gone (retention moved the log start to 40): it commits from the log start
    gone = TP("ledger", 4)
    consumer._rewind.seeked(gone, 0)
    consumer._rewind.raise_floor(gone, 40)
    consumer._acked[gone].extend([40, 41])
    assert consumer._committed(gone) == 40 and consumer._new_offset(gone) == 42
