"""Never commit over offsets that were never delivered.

Faust's consumer treats any jump in a partition's offsets as a compacted-topic
gap: it marks the missing offsets as acked and commits over them. A worker
restarted mid-stream can see such a jump (its fetcher runs while recovery seeks
the stream partitions back to their committed offsets; faust-streaming issues
216, 596), and on a delete-policy topic that silently loses the records in
between. The trading crash test lost two signals that way.

`RewindTracker` is the decision: on a gap in a topic that is not compacted it
asks for a seek back to the first missing offset, holds back every later
message of that partition until the missing one arrives, and keeps the read
position just before it (Faust drops what it thinks it has read). Held-back messages are not
delivered, so they are never acked and are read again after the rewind.

Faust commits the first run of acked offsets when it starts at most one past its record of the
committed offset, the next offset to read: a run starting one past it commits over that offset
unacked (a quote lost at a worker's leave in tests/integration/test_rebalance.py, its successor
acked the next record first). `skips_unacked` is the strict test the consumer commits by: a run
must start at the committed offset. When the committed offset is never acked while later ones
are (a record dropped in a race of a seek with delivery, found by `make chaos`), the partition
never commits again while the worker runs; `stalled` notices a commit that has not moved for
`patience` checks in that state, and the consumer reads the partition again from the committed offset.
When nothing is acked at all (the last records of a partition fetched and never delivered, so no later
ack shows the hole: discovery's restarted worker idled with two listings uncommitted), `idle_behind`
notices records fetched at or past the committed offset with none of them in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class RewindTracker:
    compacted: Callable[[str], bool]
    #: commit checks a partition may sit behind never-acked offsets before it is read again (a record
    #: still queued for its agent is acked within a few; reading again costs only repeated deliveries)
    patience: int = 5
    _waiting_for: dict[Hashable, int] = field(default_factory=dict)
    _stalls: dict[Hashable, tuple[Hashable, int]] = field(default_factory=dict)  # tp -> (committed, checks seen)
    _read_again_at: dict[Hashable, int] = field(default_factory=dict)  # tp -> committed offset it was read again from
    _floor: dict[Hashable, int] = field(default_factory=dict)  # tp -> committed offset of its last seek
    _unsought: set[Hashable] = field(default_factory=set)  # assigned, not yet sought to the committed offset
    _held_unsought: dict[Hashable, int] = field(default_factory=dict)  # tp -> lowest offset held back while unsought
    #: tp -> (offset, seek count, delivered?) of the message whose delivery Faust awaits before recording it as read
    _pending: dict[Hashable, tuple[int, int, bool]] = field(default_factory=dict)
    _seeks: dict[Hashable, int] = field(default_factory=dict)  # tp -> seeks to its committed offset so far
    _idle: dict[Hashable, tuple[Hashable, int]] = field(default_factory=dict)  # tp -> ((committed, fetched), checks)

    def assigned(self, tp: Hashable) -> None:
        """`tp` was just assigned: nothing of it is delivered until the seek to its committed offset.

        Faust's recovery resumes the stream partitions before that seek, and the client fetches from
        where it stood: what it delivered then was processed out of order with what the seek reads
        again (an event-time processor ignores the older of two records), or dropped as read.
        """
        self._unsought.add(tp)

    def seeked(self, tp: Hashable, committed: int | None) -> int | None:
        """`tp` was sought to its committed offset: what it waited for is read again from there, what lies below
        it (a fetch from before the seek still being delivered) was processed by whoever committed it.

        Returns where to seek the client again, if anything of `tp` was held back meanwhile: the client's
        seek runs before the consumer's record of it, and a record fetched between the two was held back
        with nothing left to fetch it again (the trading group stalled on `signals`, its first record held).
        """
        held = self._held_unsought.pop(tp, None)
        self._unsought.discard(tp)
        self._waiting_for.pop(tp, None)
        self._seeks[tp] = self._seeks.get(tp, 0) + 1
        if committed is None:
            self._floor.pop(tp, None)
        else:
            self._floor[tp] = committed
        if held is None:
            return None
        return committed if committed is not None else held

    def forget(self, tp: Hashable) -> None:
        """`tp` was revoked: its next owner reads it from the committed offset, and so do we if it comes back."""
        for kept in (self._waiting_for, self._stalls, self._read_again_at, self._floor, self._pending, self._held_unsought,
                     self._idle):
            kept.pop(tp, None)
        self._unsought.discard(tp)

    def on_gap(self, topic: str, tp: Hashable, first_missing: int) -> bool:
        """True when the consumer must seek `tp` back to `first_missing` (the gap is not compaction)."""
        if self.compacted(topic):
            return False
        current = self._waiting_for.get(tp)
        self._waiting_for[tp] = first_missing if current is None else min(current, first_missing)
        return True

    def admit(self, tp: Hashable, offset: int) -> bool:
        """Deliver this message? Not while `tp` waits for an earlier offset to be read again."""
        ok = self._admit(tp, offset)
        self._pending[tp] = (offset, self._seeks.get(tp, 0), ok)
        return ok

    def _admit(self, tp: Hashable, offset: int) -> bool:
        if tp in self._unsought:
            self._held_unsought[tp] = min(offset, self._held_unsought.get(tp, offset))
            return False
        if offset < self._floor.get(tp, offset):
            return False
        want = self._waiting_for.get(tp)
        if want is None or offset < want:
            return True
        if offset > want:
            return False
        del self._waiting_for[tp]
        return True

    def read_offset(self, tp: Hashable, offset: int | None, current: int | None) -> int | None:
        """The read position to keep when Faust records `offset` as read: while rewinding, just before the missing
        offset, so it is read next; after a message held back, or one whose delivery a seek overtook, where it was.

        Faust records a message as read once its delivery returns, and the seek may have run meanwhile: that
        record then replaced the seek's, and what the seek was to read again was dropped as read (a held-back
        message: 17 quotes of one partition in tests/integration/test_rebalance.py; a delivered one, which
        never reached its agent: one quote, its successors processed before it was read again).
        """
        pending = self._pending.pop(tp, None)
        want = self._waiting_for.get(tp)
        if want is not None and offset is not None and offset >= want:
            return want - 1
        if pending is not None and pending[0] == offset and (not pending[2] or pending[1] != self._seeks.get(tp, 0)):
            return current
        return offset

    def stalled(self, tp: Hashable, committed: int | None, lowest_acked: int | None) -> bool:
        """At a commit: True when `tp` must be read again from `committed` (then `on_gap` from there).

        Stalled: nothing can be committed because the lowest acked offset is past the committed one
        (`skips_unacked`). Committed offset 0 counts too (the consumer passes it from `floor`, where Faust's
        record says None): a fresh partition's first record is the one most easily lost at a worker's start.
        """
        if self._read_again_at.get(tp, committed) != committed:
            del self._read_again_at[tp]  # the commit moved since
        if (committed is None or lowest_acked is None or not skips_unacked(committed, lowest_acked) or tp in self._waiting_for
                or tp in self._read_again_at):  # once per stall: what is read again queues behind the agent's backlog
            self._stalls.pop(tp, None)
            return False
        if not self._outlasted(self._stalls, tp, committed):
            return False
        self._read_again_at[tp] = committed
        return True

    def idle_behind(self, tp: Hashable, committed: int | None, fetched: int | None, busy: bool) -> bool:
        """At a commit: True when `tp` must be read again from `committed` though nothing of it is acked.

        `fetched` is the highest offset of `tp` the client returned, `busy` whether any of its records is
        delivered and unacked or acked and uncommitted. Records fetched at or past the committed offset with
        none of them busy for `patience` checks (the same two offsets each time) were dropped or held on the
        way to the agent, and nothing later will ever ack past them: the partition idles behind its log end.
        """
        if (committed is None or fetched is None or fetched < committed or busy or tp in self._waiting_for
                or tp in self._unsought):
            self._idle.pop(tp, None)
            return False
        return self._outlasted(self._idle, tp, (committed, fetched))

    def _outlasted(self, seen: dict[Hashable, tuple[Hashable, int]], tp: Hashable, state: Hashable) -> bool:
        """One more check of `tp` in `state`: True (and counting ends) at the `patience`-th in a row."""
        last = seen.get(tp)
        checks = last[1] + 1 if last is not None and last[0] == state else 1
        if checks < self.patience:
            seen[tp] = (state, checks)
            return False
        del seen[tp]
        return True

    def floor(self, tp: Hashable) -> int | None:
        """The committed offset `tp` was sought to at its assignment (0 included; None: the group had none)."""
        return self._floor.get(tp)

    def raise_floor(self, tp: Hashable, offset: int) -> None:
        """`tp`'s log now starts at `offset`, past the committed offset it was sought to: that is where it is read."""
        self._floor[tp] = max(offset, self._floor.get(tp, offset))
        self._stalls.pop(tp, None)
        self._read_again_at.pop(tp, None)

    def rewinding(self, tp: Hashable) -> int | None:
        """The offset `tp` waits to read again, if any."""
        return self._waiting_for.get(tp)


def skips_unacked(committed: int | None, lowest_acked: int) -> bool:
    """Would committing the run of acked offsets from `lowest_acked` pass over the unacked offset `committed`?

    `committed` is the next offset to read (Kafka's meaning): only a run that starts there is safe to commit.
    None (nothing committed by the group) cannot tell. Faust records a committed 0 as None; the consumer
    passes the 0 it sought to instead (`RewindTracker.floor`).
    """
    return committed is not None and lowest_acked > committed
