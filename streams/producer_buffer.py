"""A producer buffer whose flush really empties it: the commit's guarantee that state reached its changelog.

Faust writes table changes through a buffer drained by a background task, and the consumer
flushes the producer before committing offsets. Faust's `ProducerBuffer.flush` gives up as soon
as 0.1 s pass without a message sent, so on a loaded machine a commit could go out while table
changes still sat in the buffer: a worker killed right then came back with its offsets past
records whose state was lost (the crash test's paper orders parked for good). This buffer's flush
returns only when nothing is queued and nothing is on its way to the client, so what the flush
covers (table changelogs, then the client's own flush) is on the broker before any commit.
"""

from __future__ import annotations

import asyncio

from faust.transport.producer import ProducerBuffer
from faust.types import FutureMessage

POLL_S = 0.002  # how often a flush looks again while the background task is sending


class DrainingBuffer(ProducerBuffer):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.in_flight = 0  # taken off the queue by the background task, not yet handed to the client

    async def _send_pending(self, fut: FutureMessage) -> None:
        self.in_flight += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.in_flight -= 1

    async def flush(self) -> None:
        """Wait until every buffered message is handed to the client (never a timeout that gives up)."""
        while self.size or self.in_flight:
            if self.state != "running" and self.size:
                raise RuntimeError("Cannot flush: producer buffer not running with messages still queued")
            await asyncio.sleep(POLL_S)
