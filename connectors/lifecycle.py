"""What every long-running connector shares: reconnect backoff, stop signals, racing a stop."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Awaitable
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: half of each step fixed, half random.

    The fixed half keeps a flapping server from being hammered; the random half
    keeps many connectors from reconnecting in lockstep after a venue outage.
    """

    base_s: float = 1.0
    cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Pause before reconnect attempt `attempt` (1 = the first retry)."""
        step = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        return step / 2 + rng.uniform(0.0, step / 2)


async def first_of(stop: asyncio.Event, *work: Awaitable[object]) -> bool:
    """Await the first of `work` unless `stop` is set first; True when work finished (not stopped)."""
    if stop.is_set():
        for w in work:
            if asyncio.iscoroutine(w):
                w.close()
        return False
    jobs = [asyncio.ensure_future(w) for w in work]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({*jobs, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (*jobs, stopper):
            t.cancel()
        await asyncio.gather(*jobs, stopper, return_exceptions=True)
    return not stop.is_set()


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: the loops end, then the publisher flushes."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)


def remove_stop_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
