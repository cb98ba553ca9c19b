"""What every long-running connector shares: reconnect backoff, stop signals, racing a stop."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from connectors.rest import TransientHttpError
from schemas.records import Heartbeat
from telemetry import heartbeat

if TYPE_CHECKING:
    from connectors.publisher import Publisher

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
log = structlog.get_logger(__name__)


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


def start_heartbeats(publisher: Publisher, *, live: bool = True) -> heartbeat.Beater:
    """Publish this feed's heartbeat on `health` every ARBEES_HEARTBEAT_S, reachability included.

    A live feed also says how long it may go without a record (ARBEES_FEED_STALE_S);
    a replay's records carry recorded times, so staleness means nothing there.
    """
    every = heartbeat.interval_s()
    extra = {"stale_after_ms": str(heartbeat.feed_stale_ms())} if live else {}

    def make() -> Heartbeat:
        return heartbeat.build(publisher.meter, ts=int(time.time() * 1000), every_s=every,
                               reachability=heartbeat.reach, extra=extra)

    def send(hb: Heartbeat) -> None:
        publisher.publish("health", f"{hb.service}:{hb.instance}", hb)

    beater = heartbeat.Beater(make, send, every)
    beater.start()
    return beater


async def run_until_stopped(publisher: Publisher, work: Callable[[asyncio.Event], Awaitable[None]],
                            close: Callable[[], Awaitable[None]]) -> None:
    """A polling feed's life: stop on SIGINT/SIGTERM, heartbeats while it runs, then close and flush."""
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    beater = start_heartbeats(publisher)
    try:
        await work(stop)
    finally:
        beater.stop()
        await close()
        publisher.flush()


async def poll_every(stop: asyncio.Event, every_s: float, once: Callable[[], Awaitable[None]], source: str) -> None:
    """Run one polling round every `every_s` seconds until `stop`.

    A transient failure (HTTP 429/5xx, a timeout) never ends the feed: it marks the service
    unreachable on the heartbeat, is logged, and the next round comes after `every_s` or the
    server's Retry-After, whichever is longer. Anything else is a bug and ends the process
    (the supervisor restarts it with an alert).
    """
    while not stop.is_set():
        wait_s = every_s
        try:
            await once()
            heartbeat.reach.ok()
        except TransientHttpError as exc:
            heartbeat.reach.failed(f"{source}: {exc}")
            log.warning("poll skipped", source=source, error=str(exc), retry_after_s=exc.retry_after_s)
            wait_s = max(every_s, exc.retry_after_s or 0.0)
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait_s)
        except asyncio.TimeoutError:
            pass


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`: the loops end, then the publisher flushes."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)


def remove_stop_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
