"""The Kalshi connector as a long-running service: discovery, then market data forever.

Two loops share one `KalshiFeed`:

- discovery: every `discover_every_s`, the configured series' markets onto
  `markets.catalog` (raw pages first); markets still trading join the streamed set;
- market data: with credentials, the websocket, reconnected after every drop with
  jittered exponential backoff and resubscribed to every discovered market (each
  connection starts from fresh snapshots, so no book outlives its connection);
  without credentials, REST order books polled every `book_poll_s`, a quote only
  when a book changed.

A refused handshake or unsigned book request (401/403) is fatal: retrying cannot
fix credentials. Everything else is retried. Time and randomness are injected
(`sleep`, `rng`, `monotonic`) so the loop logic is unit-tested without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from connectors.kalshi.errors import FatalKalshiError, KalshiError, TransientKalshiError
from connectors.kalshi.feed import FeedStats
from connectors.lifecycle import Backoff, first_of
from schemas.enums import ListingStatus
from schemas.records import MarketListing, Quote
from telemetry import heartbeat

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: Market statuses after which a market never trades again (Kalshi's market lifecycle).
FINISHED = frozenset({"closed", "determined", "settled", "finalized", "deactivated"})

#: Faults after which a new connection may work.
RECONNECTABLE: tuple[type[BaseException], ...] = (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, TransientKalshiError)


class MarketFeed(Protocol):
    """What the service needs of `connectors.kalshi.feed.KalshiFeed`."""

    stats: FeedStats

    async def discover(self, series_tickers: list[str], *, status: str | None = None) -> list[MarketListing]: ...

    async def refresh(self, tickers: list[str]) -> list[MarketListing]: ...

    async def rest_quotes(self, tickers: list[str], *, only_changed: bool = False) -> list[Quote]: ...

    async def stream(self, tickers: list[str], *, until: Callable[[FeedStats], bool]) -> FeedStats: ...

    async def watch(self, tickers: list[str]) -> tuple[str, ...]: ...

    @property
    def streamed(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ServiceConfig:
    series: tuple[str, ...]
    discover_every_s: float = 300.0
    book_poll_s: float = 5.0
    market_status: str | None = "open"  # the GET /markets status filter
    backoff: Backoff = Backoff()
    healthy_after_s: float = 30.0  # a connection that lived this long resets the backoff


@dataclass
class ServiceStats:
    discoveries: int = 0
    discovery_failures: int = 0
    connections: int = 0
    reconnects: int = 0
    polls: int = 0
    delays: list[float] = field(default_factory=list)


def _auth_refusal(exc: BaseException) -> int | None:
    """The HTTP status of a refused websocket handshake when retrying cannot help."""
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
        return int(exc.response.status_code)
    return None


class KalshiService:
    def __init__(
        self,
        feed: MarketFeed,
        config: ServiceConfig,
        *,
        use_websocket: bool,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not config.series:
            raise ValueError("KalshiService needs at least one series ticker")
        self.feed = feed
        self.config = config
        self.use_websocket = use_websocket
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self.stats = ServiceStats()
        self.markets: tuple[str, ...] = ()  # discovered and still trading, in discovery order
        self._have_markets = asyncio.Event()
        self._unpollable: set[str] = set()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        self.stats.delays.append(seconds)
        await first_of(stop, self._sleep(seconds))

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Both loops until `stop` is set; a fatal error in either stops both and is raised."""
        data = self.stream_forever(stop) if self.use_websocket else self.poll_forever(stop)
        tasks = [
            asyncio.create_task(self.discover_forever(stop), name="kalshi-discovery"),
            asyncio.create_task(data, name="kalshi-market-data"),
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

    async def discover_once(self) -> tuple[str, ...]:
        """One discovery round; returns the markets that joined the streamed set."""
        listings = await self.feed.discover(list(self.config.series), status=self.config.market_status)
        self.stats.discoveries += 1
        trading = [x.market_id for x in listings if x.status not in FINISHED]
        await self._follow_up(set(trading))
        known = set(self.markets)
        added = tuple(t for t in dict.fromkeys(trading) if t not in known)
        self._unpollable.difference_update(trading)  # listed again: worth another order book request
        if added:
            self.markets = self.markets + added
            if self.use_websocket:
                try:
                    await self.feed.watch(list(added))
                except RECONNECTABLE as exc:  # the stream loop reconnects and subscribes them all
                    log.warning("kalshi subscribe of new markets failed", error=str(exc), markets=len(added))
        if self.markets:
            self._have_markets.set()
        log.info("kalshi discovery", series=list(self.config.series), listings=len(listings), trading=len(trading), new=len(added))
        return added

    async def _follow_up(self, trading: set[str]) -> None:
        """Re-read the followed markets that left the open list, so their close, result and settlement reach
        the catalog (positions settle on the venue's result); a settled market is followed no longer."""
        gone = [t for t in self.markets if t not in trading]
        if not gone:
            return
        refreshed = await self.feed.refresh(gone)
        done = {x.market_id for x in refreshed if x.lifecycle is ListingStatus.SETTLED}
        if done:
            self.markets = tuple(t for t in self.markets if t not in done)
            log.info("kalshi markets settled", markets=sorted(done))

    async def discover_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.discover_once()
                heartbeat.reach.ok()
                failures = 0
                wait = self.config.discover_every_s
            except (KalshiError, OSError) as exc:
                heartbeat.reach.failed(f"Kalshi: {exc}")
                failures += 1
                self.stats.discovery_failures += 1
                wait = self.config.backoff.delay(failures, self._rng)
                log.warning("kalshi discovery failed", error=str(exc), attempt=failures, retry_in_s=round(wait, 2))
            await self._pause(stop, wait)

    # -------------------------------------------------------------- websocket

    async def stream_forever(self, stop: asyncio.Event) -> None:
        """The websocket, reconnected with backoff after every close or fault, until `stop`."""
        attempt = 0
        while not stop.is_set():
            if not await first_of(stop, self._have_markets.wait()):
                return
            started = self._monotonic()
            self.stats.connections += 1
            try:
                await self.feed.stream(list(self.markets), until=lambda _: stop.is_set())
                reason = "server closed the connection"
            except RECONNECTABLE as exc:
                status = _auth_refusal(exc)
                if status is not None:
                    raise FatalKalshiError(
                        f"Kalshi refused the websocket handshake (HTTP {status}): check KALSHI_API_KEY_ID and the key file",
                        status=status,
                    ) from None
                reason = f"{type(exc).__name__}: {exc}"
                heartbeat.reach.failed(f"Kalshi websocket: {reason}")
            if stop.is_set():
                return
            # a connection that stayed up `healthy_after_s` was fine until now: start the backoff over;
            # one dropped sooner (accepted, then closed) keeps growing it, so the venue is never hammered
            attempt = 1 if self._monotonic() - started >= self.config.healthy_after_s else attempt + 1
            delay = self.config.backoff.delay(attempt, self._rng)
            self.stats.reconnects += 1
            log.warning("kalshi websocket down; reconnecting", reason=reason, attempt=attempt, delay_s=round(delay, 2))
            await self._pause(stop, delay)

    # ------------------------------------------------------------- REST polling

    async def poll_once(self, stop: asyncio.Event) -> bool:
        """One round of order book requests; False when the venue is failing (back off)."""
        self.stats.polls += 1
        for ticker in self.markets:
            if stop.is_set():
                return True
            if ticker in self._unpollable:
                continue
            try:
                await self.feed.rest_quotes([ticker], only_changed=True)
            except FatalKalshiError as exc:
                if exc.status in (401, 403):
                    raise FatalKalshiError(
                        f"Kalshi refuses unsigned order book requests (HTTP {exc.status}): configure KALSHI_API_KEY_ID "
                        "and KALSHI_PRIVATE_KEY_PATH",
                        status=exc.status,
                    ) from None
                self._unpollable.add(ticker)  # e.g. 404: not polled again until discovery lists it again
                log.warning("kalshi order book unavailable", market=ticker, error=str(exc))
            except (TransientKalshiError, OSError) as exc:
                heartbeat.reach.failed(f"Kalshi order books: {exc}")
                log.warning("kalshi order book polling failed", market=ticker, error=str(exc))
                return False
        return True

    async def poll_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            if not await first_of(stop, self._have_markets.wait()):
                return
            if await self.poll_once(stop):
                failures = 0
                wait = self.config.book_poll_s
            else:
                failures += 1
                wait = max(self.config.book_poll_s, self.config.backoff.delay(failures, self._rng))
            await self._pause(stop, wait)
