"""Batches of a Faust stream that cost nothing while the stream is idle.

Faust's `Stream.take_events(n, within)` wakes every `within` seconds whether or not anything
came: with `within` at 2 ms (what keeps a partial batch's latency low) each of a worker's
agents woke 500 times a second, and a worker with every group, reading nothing, used 40% of a
core (on the 2-core machine `arbees run` starts five of them). Here an agent sleeps until its
first record comes, then gives the batch `within` seconds to fill (or less, once it holds `size`),
and acks the batch's events once the agent is done with it, as `take_events` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from faust.streams import Stream
from faust.types import ChannelT, EventT
from mode.utils.aiter import aiter
from mode.utils.futures import notify


async def batches(stream: Stream[Any], size: int, within: float) -> AsyncIterator[list[EventT]]:
    """Lists of at most `size` events: each as soon as `size` are in, or `within` seconds after its first."""
    events: list[EventT] = []
    first = asyncio.Event()  # the batch has its first event
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
            if not full.is_set() and within > 0:
                await stream.wait_for_stopped(full, timeout=within)  # type: ignore[arg-type]
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
