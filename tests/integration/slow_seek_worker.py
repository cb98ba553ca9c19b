"""A worker whose seek to the group's committed offsets meets an offset commit, as a restarted worker's did in `make chaos`.

Faust's recovery resumes the stream partitions and lets the fetcher deliver before its seek to the
committed offsets has read them from the broker (three seconds in a chaos run on the busy machine).
This worker makes that window the worst case every time: after the seek has read the group's offsets
it waits (up to ARBEES_TEST_SEEK_DELAY_S) for an offset commit of records delivered meanwhile, and a
delivery that starts then is held until the seek is done (as one waiting on a full producer buffer
is). `python -m tests.integration.slow_seek_worker worker -l info`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from streams.agents import worker
from streams.guarded_consumer import GuardedConsumer

DELAY_S = float(os.environ.get("ARBEES_TEST_SEEK_DELAY_S", "6"))
_read_committed = GuardedConsumer.seek_to_committed
_perform_seek = GuardedConsumer.perform_seek
_force_commit = GuardedConsumer.force_commit
_init = GuardedConsumer.__init__


def _init_holding(self: GuardedConsumer, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    self._test_committed = asyncio.Event()
    self._test_released = asyncio.Event()
    self._test_released.set()
    deliver = self.callback

    async def held(message: Any) -> None:
        await self._test_released.wait()
        await deliver(message)

    self.callback = held


async def _late(self: GuardedConsumer) -> Mapping[Any, int]:
    offsets = await _read_committed(self)
    self._test_committed.clear()
    try:  # the answer is in flight: a commit made now is newer than it
        await asyncio.wait_for(self._test_committed.wait(), DELAY_S)
    except asyncio.TimeoutError:
        pass
    self._test_released.clear()  # the next delivery is under way when the seek records its answer
    await asyncio.sleep(0.5)
    return offsets


async def _seek_then_release(self: GuardedConsumer) -> None:
    try:
        await _perform_seek(self)
    finally:
        self._test_released.set()


async def _noting_commits(self: GuardedConsumer, *args: Any, **kwargs: Any) -> bool:
    done = await _force_commit(self, *args, **kwargs)
    if done:
        self._test_committed.set()
    return done


GuardedConsumer.__init__ = _init_holding  # type: ignore[method-assign]
GuardedConsumer.seek_to_committed = _late  # type: ignore[method-assign]
GuardedConsumer.perform_seek = _seek_then_release  # type: ignore[method-assign]
GuardedConsumer.force_commit = _noting_commits  # type: ignore[method-assign]

if __name__ == "__main__":
    worker.main()
