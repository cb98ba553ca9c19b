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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class RewindTracker:
    compacted: Callable[[str], bool]
    _waiting_for: dict[Hashable, int] = field(default_factory=dict)

    def on_gap(self, topic: str, tp: Hashable, first_missing: int) -> bool:
        """True when the consumer must seek `tp` back to `first_missing` (the gap is not compaction)."""
        if self.compacted(topic):
            return False
        current = self._waiting_for.get(tp)
        self._waiting_for[tp] = first_missing if current is None else min(current, first_missing)
        return True

    def admit(self, tp: Hashable, offset: int) -> bool:
        """Deliver this message? Not while `tp` waits for an earlier offset to be read again."""
        want = self._waiting_for.get(tp)
        if want is None or offset < want:
            return True
        if offset > want:
            return False
        del self._waiting_for[tp]
        return True

    def read_offset(self, tp: Hashable, offset: int | None) -> int | None:
        """The read position to keep: while rewinding, just before the missing offset, so it is read next."""
        want = self._waiting_for.get(tp)
        if want is not None and offset is not None and offset >= want:
            return want - 1
        return offset

    def rewinding(self, tp: Hashable) -> int | None:
        """The offset `tp` waits to read again, if any."""
        return self._waiting_for.get(tp)
