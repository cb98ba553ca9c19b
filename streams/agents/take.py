"""Batches of a Faust stream that cost nothing while the stream is idle.

Faust's `Stream.take_events(n, within)` wakes every `within` seconds whether or not anything
came: with `within` at 2 ms (what keeps a partial batch's latency low) each of a worker's
agents woke 500 times a second, and a worker with every group, reading nothing, used 40% of a
core (on the 2-core machine `arbees run` starts five of them). Here an agent sleeps until its
first record comes, then gives the batch `within` seconds to fill (or less, once it holds `size`, or
once no record came for `quiet` seconds: a record that comes alone, a score change or one step of a
lockstep replay, is not held for the whole window), and acks the batch's events once the agent is done
with it, as `take_events` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from faust.streams import Stream
from faust.types import ChannelT, EventT
from mode.utils.aiter import aiter
from mode.utils.futures import notify


#: A batch closes once its input has been quiet this long (s): records of one fetch reach the agent back to back.
QUIET_S = 0.05


async def batches(stream: Stream[Any], size: int, within: float, quiet: float = QUIET_S) -> AsyncIterator[list[EventT]]:
    """Lists of at most `size` events: each as soon as `size` are in, `within` seconds after its first, or
    `quiet` seconds after its last, whichever comes first."""
    events: list[EventT] = []
    first = asyncio.Event()  # the batch has its first event
    arrived = asyncio.Event()  # an event came since the last look
    full = asyncio.Event()  # the batch has `size` events
    consumed = asyncio.Event()
    consuming: asyncio.Future[Any] | None = None  # set while the agent has a batch: new events wait

    async def add(value: Any) -> Any:
        nonlocal consuming
        if consuming is not None:
            try:
                await consuming
            finally:
                consuming = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("a stream processor ran without a current event")
        events.append(event)
        first.set()
        arrived.set()
        if len(events) >= size:
            full.set()
            consumed.clear()
            await stream.wait(consumed)  # type: ignore[arg-type] # never more than `size` in a batch
        return value

    # Acked here, once the agent is done with a batch, and by nobody else ever again: Faust's take_events
    # turns the stream's own acks back on when its generator closes, and a stopping worker closes it
    # before it stops the stream, whose drainer then acked each record it still took from the queue,
    # unprocessed; the stop's commit went past them (a quote lost at a worker's leave, 1 run in 3 of
    # tests/integration/test_rebalance.py).
    stream.enable_acks = False
    stream.add_processor(add)
    stream._enable_passive(cast(ChannelT, aiter(stream.channel)))  # type: ignore[attr-defined]
    try:
        while not stream.should_stop:
            if await stream.wait_for_stopped(first):  # type: ignore[arg-type] # no timeout: idle is free
                break
            if within > 0:
                await _fill(stream, full, arrived, within, quiet)
            if not events:
                first.clear()
                continue
            consuming = asyncio.get_running_loop().create_future()
            batch = list(events)
            try:
                yield batch
            finally:
                events.clear()
                for event in batch:
                    await stream.ack(event)
                notify(consuming)
                first.clear()
                full.clear()
                consumed.set()
    finally:
        stream._processors.remove(add)  # type: ignore[attr-defined]


async def _fill(stream: Stream[Any], full: asyncio.Event, arrived: asyncio.Event, within: float, quiet: float) -> None:
    """Wait while the batch fills: until it is full, `within` is over, or no event came for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not full.is_set():
        left = deadline - loop.time()
        if left <= 0:
            return
        arrived.clear()
        if await stream.wait_for_stopped(arrived, timeout=min(quiet, left)) or not arrived.is_set():  # type: ignore[arg-type]
            return
