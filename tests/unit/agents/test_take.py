"""Batches of a Faust stream (streams.agents.take.batches) through an agent's test context, no broker:
a batch waits for more records only while they keep coming, so a record that comes alone (a score
change, one step of a lockstep replay) is not held for the group's whole window."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust

from streams.agents.take import batches

WITHIN = 5.0  # far longer than any wait the tests expect: reaching it is the failure


def _run(quiet: float, feed: Any) -> list[tuple[float, list[int]]]:
    app = faust.App(f"test-take-{time.monotonic_ns()}", broker="kafka://127.0.0.1:1", store="memory://")
    got: list[tuple[float, list[int]]] = []
    began = 0.0

    @app.agent()
    async def grouped(stream: Any) -> Any:
        async for batch in batches(stream, 100, WITHIN, quiet):
            got.append((time.monotonic() - began, [e.value for e in batch]))
            yield len(batch)

    async def main() -> None:
        nonlocal began
        async with grouped.test_context() as agent:
            began = time.monotonic()
            await feed(agent)
            deadline = time.monotonic() + 2 * WITHIN
            while sum(len(b) for _, b in got) < feed.n and time.monotonic() < deadline:
                await asyncio.sleep(0.01)

    asyncio.run(main())
    return got


def _feed(values: list[int], gap_s: float) -> Any:
    async def feed(agent: Any) -> None:
        async def put(i: int, v: int) -> None:  # concurrent: a test context's put returns once its batch is done
            await asyncio.sleep(i * gap_s)
            await agent.put(v)

        await asyncio.gather(*(put(i, v) for i, v in enumerate(values)))

    feed.n = len(values)  # type: ignore[attr-defined]
    return feed


def test_a_record_alone_goes_on_after_the_quiet_gap_not_the_window() -> None:
    got = _run(0.05, _feed([7], 0))
    assert [b for _, b in got] == [[7]]
    assert got[0][0] < WITHIN / 2, f"held {got[0][0]:.2f}s: the whole window"


def test_records_that_come_together_are_one_batch() -> None:
    got = _run(0.05, _feed(list(range(20)), 0))
    assert [b for _, b in got] == [list(range(20))]


def test_a_batch_keeps_filling_while_records_keep_coming_within_the_quiet_gap() -> None:
    got = _run(1.0, _feed([1, 2, 3, 4, 5], 0.05))
    assert [b for _, b in got] == [[1, 2, 3, 4, 5]]
    assert got[0][0] < WITHIN
