"""The Polymarket connector as a long-running service: Gamma discovery, then the market channel forever.

Two loops share one `PolymarketFeed`:

- discovery: every `discover_every_s`, the active events of each configured tag
  (`tag_slug`, e.g. "nba") onto `markets.catalog` (raw pages first); markets open
  for trading on the CLOB join the tracked set, soonest-closing first up to
  `max_assets` tokens (the market channel takes at most 500 per connection);
- market data: one `MarketStream` over every tracked token. It reconnects by
  itself, with jittered exponential backoff, after every drop. When discovery
  adds markets, or a REST resync fails, the stream is replaced by a new one
  subscribing the whole set: the venue answers a subscription with fresh
  snapshots, and every book is voided until its snapshot arrives.

Time and randomness are injected (`sleep`, `rng`, `monotonic`) so the loop logic is unit-tested.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from connectors.polymarket.errors import PolymarketError, TransientError
from connectors.polymarket.feed import FeedStats
from connectors.lifecycle import Backoff, first_of
from connectors.polymarket.ws import MarketStream
from schemas.enums import ListingStatus
from schemas.records import MarketListing
from telemetry import heartbeat

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
StreamFactory = Callable[[Sequence[str]], MarketStream]

MAX_ASSETS_PER_CONNECTION = 500


class MarketFeed(Protocol):
    """What the service needs of `connectors.polymarket.feed.PolymarketFeed`."""

    stats: FeedStats

    async def discover(self, **filters: Any) -> list[MarketListing]: ...

    async def refresh(self, condition_ids: list[str]) -> list[MarketListing]: ...

    def track(self, listing: MarketListing) -> None: ...

    def invalidate(self, reason: str) -> None: ...

    async def run(self, stream: MarketStream, stop: Callable[[FeedStats], bool]) -> FeedStats: ...

    @property
    def asset_ids(self) -> list[str]: ...

    @property
    def tracked_markets(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ServiceConfig:
    tags: tuple[str, ...]  # Gamma tag slugs; empty = every active event
    discover_every_s: float = 300.0
    max_assets: int = MAX_ASSETS_PER_CONNECTION
    backoff: Backoff = Backoff(base_s=1.0, cap_s=60.0)
    healthy_after_s: float = 30.0  # a stream that lived this long resets the backoff


@dataclass
class ServiceStats:
    discoveries: int = 0
    discovery_failures: int = 0
    streams: int = 0
    stream_failures: int = 0
    resubscribes: int = 0
    skipped_markets: int = 0
    delays: list[float] = field(default_factory=list)


def pick_new(listings: Sequence[MarketListing], tracked: set[str], room: int) -> tuple[list[MarketListing], int]:
    """Open, untracked binary markets with both tokens, soonest close first, at most `room` // 2 of them.

    Returns (chosen, how many open markets did not fit).
    """
    seen: set[str] = set()
    fresh: list[MarketListing] = []
    for x in listings:
        if x.status == "open" and x.token_yes and x.token_no and x.market_id not in tracked and x.market_id not in seen:
            seen.add(x.market_id)
            fresh.append(x)
    fresh.sort(key=lambda x: (x.close_ts is None, x.close_ts or 0))
    fit = max(0, room // 2)
    return fresh[:fit], max(0, len(fresh) - fit)


class PolymarketService:
    def __init__(
        self,
        feed: MarketFeed,
        config: ServiceConfig,
        stream_factory: StreamFactory,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed = feed
        self._monotonic = monotonic
        self.config = config
        self._stream_factory = stream_factory
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = ServiceStats()
        self._changed = asyncio.Event()  # the tracked set grew: subscribe it all on a new stream
        self._resolved: set[str] = set()  # tracked markets whose resolution is on the catalog: not re-read

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        self.stats.delays.append(seconds)
        await first_of(stop, self._sleep(seconds))

    async def run(self, stop: asyncio.Event) -> None:
        """Both loops until `stop` is set; an unexpected error in either stops both and is raised."""
        tasks = [
            asyncio.create_task(self.discover_forever(stop), name="polymarket-discovery"),
            asyncio.create_task(self.stream_forever(stop), name="polymarket-market-data"),
        ]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (*tasks, stopper):
                t.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for t in tasks:
            if t in done and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]

    # ---------------------------------------------------------------- discovery

    async def discover_once(self) -> list[MarketListing]:
        """One round over every tag; returns the markets that started being tracked."""
        listings: list[MarketListing] = []
        for tag in self.config.tags or (None,):
            listings += await self.feed.discover(**({"tag_slug": tag} if tag else {}))
        self.stats.discoveries += 1
        await self._follow_up({x.market_id for x in listings})
        tracked = set(self.feed.tracked_markets)
        room = self.config.max_assets - len(self.feed.asset_ids)
        chosen, skipped = pick_new(listings, tracked, room)
        for listing in chosen:
            self.feed.track(listing)
        if skipped:
            self.stats.skipped_markets += skipped
            log.warning("polymarket: more open markets than one connection carries; the latest-closing are not streamed",
                        skipped=skipped, max_assets=self.config.max_assets)
        if chosen:
            self._changed.set()
        log.info("polymarket discovery", tags=list(self.config.tags), listings=len(listings), new=len(chosen),
                 tracked=len(self.feed.tracked_markets))
        return chosen

    async def _follow_up(self, listed: set[str]) -> None:
        """Re-read tracked markets that left the active listing until they resolve, so their close and
        resolution reach the catalog (positions settle on the venue's result)."""
        gone = [m for m in self.feed.tracked_markets if m not in listed and m not in self._resolved]
        if not gone:
            return
        refreshed = await self.feed.refresh(gone)
        done = {x.market_id for x in refreshed if x.lifecycle is ListingStatus.SETTLED}
        if done:
            self._resolved |= done
            log.info("polymarket markets resolved", markets=sorted(done))

    async def discover_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.discover_once()
                heartbeat.reach.ok()
                failures = 0
                wait = self.config.discover_every_s
            except PolymarketError as exc:
                heartbeat.reach.failed(f"Polymarket: {exc}")
                failures += 1
                self.stats.discovery_failures += 1
                # never sooner than the venue asked (a 429's Retry-After the client did not wait out in the call)
                wait = max(self.config.backoff.delay(failures, self._rng), (exc.retry_after_s or 0.0) if isinstance(exc, TransientError) else 0.0)
                log.warning("polymarket discovery failed", error=str(exc), attempt=failures, retry_in_s=round(wait, 2))
            await self._pause(stop, wait)

    # -------------------------------------------------------------- market data

    async def stream_forever(self, stop: asyncio.Event) -> None:
        """A stream over every tracked token, replaced when the set grows or the feed fails."""
        failures = 0
        while not stop.is_set():
            if not self.feed.asset_ids and not await first_of(stop, self._changed.wait()):
                return
            self._changed.clear()
            if self.stats.streams:
                self.feed.invalidate("resubscribing")
            stream = self._stream_factory(list(self.feed.asset_ids))
            self.stats.streams += 1
            started = self._monotonic()
            run = asyncio.ensure_future(self.feed.run(stream, stop=lambda _: stop.is_set()))
            changed = asyncio.ensure_future(self._changed.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({run, changed, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (run, changed, stopper):
                    t.cancel()
                await asyncio.gather(changed, stopper, return_exceptions=True)
                outcome = (await asyncio.gather(run, return_exceptions=True))[0]
            if stop.is_set():
                return
            if isinstance(outcome, PolymarketError):
                # a stream that ran `healthy_after_s` was fine until now: start the backoff over
                failures = 1 if self._monotonic() - started >= self.config.healthy_after_s else failures + 1
                self.stats.stream_failures += 1
                heartbeat.reach.failed(f"Polymarket stream: {outcome}")
                delay = self.config.backoff.delay(failures, self._rng)
                log.warning("polymarket feed failed; resubscribing", error=f"{type(outcome).__name__}: {outcome}",
                            attempt=failures, delay_s=round(delay, 2))
                await self._pause(stop, delay)
            elif isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                raise outcome
            else:
                failures = 0
                self.stats.resubscribes += 1
                log.info("polymarket tracked markets changed; resubscribing", assets=len(self.feed.asset_ids))
