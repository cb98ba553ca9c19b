"""When a table's recovery waits on a changelog partition that does not move, read it again.

Faust's recovery reads each active changelog partition from its start offset up to the highwater it
noted, and keeps the agents paused until it is there. If no record of a partition arrives (the
fetch lost, or the re-read dropped as already read), Faust only logs "No event received for active
tp" every 30 s and the worker stays in recovery for good: `tests/integration/test_rebalance.py` saw
a shard worker wait 3 minutes with every quote unanswered. The consumer asks `stuck` each time Faust
checks a waiting partition and seeks it again to where recovery stands when it says so.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class RecoveryWatch:
    #: seconds a partition's recovery offset may stay put below its highwater before it is read again (Faust checks
    #: every 5 s; a healthy recovery moves within one fetch)
    patience_s: float = 15.0
    _since: dict[Hashable, tuple[int, float]] = field(default_factory=dict)  # tp -> (offset, unmoved since)

    def stuck(self, tp: Hashable, offset: int, highwater: int, now: float) -> bool:
        """True once per `patience_s` while `tp`'s recovery offset stays at `offset`, short of `highwater`."""
        seen = self._since.get(tp)
        if offset >= highwater or seen is None or seen[0] != offset:
            self._since[tp] = (offset, now)
            return False
        if now - seen[1] < self.patience_s:
            return False
        self._since[tp] = (offset, now)
        return True
