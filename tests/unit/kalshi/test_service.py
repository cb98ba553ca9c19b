"""The service loops: reconnect with backoff, resubscription, REST polling without keys, stop on a signal.

The loop logic runs against a scripted feed with an injected sleep, rng and
monotonic clock (no waiting); `serve` runs end to end against the simulator over
real sockets and is stopped by a real SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.errors import FatalKalshiError, TransientKalshiError
from connectors.kalshi.feed import FeedStats
from connectors.kalshi.runner import Endpoints, serve, signer_if_configured
from connectors.kalshi.service import KalshiService, ServiceConfig
from connectors.lifecycle import Backoff
from connectors.kalshi.simulator import KalshiSimulator, ladder
from schemas import depth
from schemas.enums import MarketType, Venue
from schemas.records import MarketListing, Quote

from .test_feed import SCRIPTED, RecordingSink


class TopRng(random.Random):
    """uniform(a, b) → b: the largest jitter, so every delay is known."""

    def uniform(self, a: float, b: float) -> float:
        return b


def listing(ticker: str, status: str = "active") -> MarketListing:
    return MarketListing(
        listing_id=f"KALSHI:{ticker}", venue=Venue.KALSHI, market_id=ticker, ts=0, group_id=ticker.rsplit("-", 1)[0],
        series="KXNFLGAME", title=ticker, subtitle="", yes_outcome="", market_type=MarketType.SPORT, league="nfl",
        status=status, open_ts=None, close_ts=None, settle_ts=None, tick_micros=10_000, tick_bands=[],
        taker_fee_rate=0.07, maker_fee_rate=0.0, fee_exponent=1.0, min_order_size=1.0, rules="",
        resolution_source="", result=None,
    )


@dataclass
class Clock:
    """A monotonic clock and a sleep that only moves it."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class ScriptedFeed:
    """Each `stream()` call plays the next step: an exception to raise, or seconds the connection lives."""

    steps: list[BaseException | float]
    clock: Clock
    stop: asyncio.Event
    listings: list[list[MarketListing]] = field(default_factory=list)
    stats: FeedStats = field(default_factory=FeedStats)
    subscribed: list[list[str]] = field(default_factory=list)
    watched: list[list[str]] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    poll_errors: dict[str, BaseException] = field(default_factory=dict)
    later: dict[str, MarketListing] = field(default_factory=dict)  # what refresh() answers per ticker
    refreshed: list[list[str]] = field(default_factory=list)
    _streamed: tuple[str, ...] = ()

    async def discover(self, series_tickers: list[str], *, status: str | None = None) -> list[MarketListing]:
        return self.listings.pop(0) if self.listings else []

    async def refresh(self, tickers: list[str]) -> list[MarketListing]:
        self.refreshed.append(list(tickers))
        return [self.later[t] for t in tickers if t in self.later]

    async def rest_quotes(self, tickers: list[str], *, only_changed: bool = False) -> list[Quote]:
        self.polled += tickers
        for t in tickers:
            if t in self.poll_errors:
                raise self.poll_errors[t]
        return []

    async def stream(self, tickers: list[str], *, until: Callable[[FeedStats], bool]) -> FeedStats:
        self.subscribed.append(list(tickers))
        self._streamed = tuple(tickers)
        if not self.steps:
            self.stop.set()
            return self.stats
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        self.stats.frames += 3
        self.clock.now += step
        return self.stats

    async def watch(self, tickers: list[str]) -> tuple[str, ...]:
        self.watched.append(list(tickers))
        self._streamed += tuple(tickers)
        return tuple(tickers)

    @property
    def streamed(self) -> tuple[str, ...]:
        return self._streamed


def service(feed: ScriptedFeed, clock: Clock, *, websocket: bool = True, **config: Any) -> KalshiService:
    cfg = ServiceConfig(series=("KXNFLGAME",), backoff=Backoff(base_s=1.0, cap_s=8.0), **config)
    return KalshiService(feed, cfg, use_websocket=websocket, sleep=clock.sleep, rng=TopRng(), monotonic=clock.monotonic)


def test_backoff_doubles_to_its_cap_with_equal_jitter() -> None:
    b = Backoff(base_s=1.0, cap_s=8.0)
    assert [b.delay(n, TopRng()) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    low = random.Random(7)
    for n in range(1, 7):
        step = min(8.0, 2.0 ** (n - 1))
        assert step / 2 <= b.delay(n, low) <= step  # never below half a step: no hammering


async def test_websocket_reconnects_with_growing_backoff_and_resubscribes_every_market() -> None:
    clock, stop = Clock(), asyncio.Event()
    closed = ConnectionClosedError(None, None)
    # refused, refused, up 1 s then closed, up 45 s then closed (healthy: backoff starts over), dropped
    feed = ScriptedFeed([OSError("refused"), OSError("refused"), 1.0, 45.0, closed], clock, stop)
    svc = service(feed, clock)
    svc.markets = tuple(SCRIPTED)
    svc._have_markets.set()
    await asyncio.wait_for(svc.stream_forever(stop), 5)
    assert clock.slept == [1.0, 2.0, 4.0, 1.0, 2.0]
    assert svc.stats.reconnects == 5 and svc.stats.connections == 6
    assert feed.subscribed == [list(SCRIPTED)] * 6  # every connection subscribes every discovered market


async def test_markets_found_while_streaming_are_subscribed_on_the_live_connection() -> None:
    clock, stop = Clock(), asyncio.Event()
    feed = ScriptedFeed([], clock, stop)
    feed.listings = [[listing(SCRIPTED[0]), listing("KXNFLGAME-X-Y", status="finalized")],
                     [listing(SCRIPTED[0]), listing(SCRIPTED[1])]]
    svc = service(feed, clock)
    assert await svc.discover_once() == (SCRIPTED[0],)  # a finalized market is not streamed
    assert await svc.discover_once() == (SCRIPTED[1],)
    assert feed.watched == [[SCRIPTED[0]], [SCRIPTED[1]]] and svc.markets == SCRIPTED


async def test_a_refused_handshake_is_fatal_and_stops_the_service() -> None:
    clock, stop = Clock(), asyncio.Event()
    refused = InvalidStatus(Response(401, "Unauthorized", Headers()))
    feed = ScriptedFeed([refused], clock, stop)
    feed.listings = [[listing(SCRIPTED[0])]]
    with pytest.raises(FatalKalshiError, match="HTTP 401"):
        await asyncio.wait_for(service(feed, clock).run(stop), 5)
    assert not stop.is_set() and clock.slept[0] == 300.0  # discovery was waiting for its next round


async def test_without_websocket_books_are_polled_and_missing_markets_dropped() -> None:
    clock, stop = Clock(), asyncio.Event()
    feed = ScriptedFeed([], clock, stop)
    gone = "KXNFLGAME-25NOV27KCDAL-KC"
    feed.poll_errors[gone] = FatalKalshiError("HTTP 404", status=404)
    svc = service(feed, clock, websocket=False, book_poll_s=5.0)
    feed.listings = [[listing(SCRIPTED[0]), listing(gone), listing(SCRIPTED[1])]]
    await svc.discover_once()
    assert await svc.poll_once(stop) and await svc.poll_once(stop)
    assert feed.polled == [SCRIPTED[0], gone, SCRIPTED[1], SCRIPTED[0], SCRIPTED[1]]  # 404 once, then skipped
    feed.poll_errors[SCRIPTED[0]] = TransientKalshiError("HTTP 503", status=503)
    assert not await svc.poll_once(stop)  # the venue is failing: the round stops, the loop backs off
    feed.poll_errors[SCRIPTED[0]] = FatalKalshiError("HTTP 401", status=401)
    with pytest.raises(FatalKalshiError, match="unsigned order book"):
        await svc.poll_once(stop)


def test_credentials_are_optional_but_half_a_configuration_is_refused(key_file: Any) -> None:
    assert signer_if_configured({}) is None
    assert signer_if_configured({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}) is not None
    with pytest.raises(FatalKalshiError, match="KALSHI_PRIVATE_KEY_PATH"):
        signer_if_configured({"KALSHI_API_KEY_ID": "k"})


@dataclass
class FlushCountingSink(RecordingSink):
    flushes: int = 0

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1


async def test_serve_streams_the_simulator_until_sigterm_then_flushes(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    sink = FlushCountingSink()
    config = ServiceConfig(series=("KXNFLGAME",))
    async with KalshiSimulator(public_key_pem=signer.public_key_pem(), delta_interval_s=0.001) as sim:
        async def terminate_when_done() -> None:
            await asyncio.wait_for(sim.script_done.wait(), 20)
            while not _final_books_seen(sim, sink):
                await asyncio.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)

        killer = asyncio.create_task(terminate_when_done())
        svc = await asyncio.wait_for(serve("unused:9092", config, Endpoints(sim.rest_url, sim.ws_url), signer, publisher=sink), 30)
        await killer
    assert sink.flushes == 1 and svc.stats.connections == 1 and sim.auth_failures == 0
    assert sum(1 for t, _, _ in sink.published if t == "markets.catalog") == 6
    # the handlers are gone: SIGTERM is back to its default, not a stale stop event
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def _final_books_seen(sim: KalshiSimulator, sink: RecordingSink) -> bool:
    last: dict[str, Quote] = {}
    for topic, _, record in sink.published:
        if topic == "markets.quotes":
            last[record.market_id] = record
    return all(
        t in last and [(p, round(c * 100)) for p, c in depth.book_levels(last[t])["yes_bids"]] == ladder(sim.books[t], "yes")
        and [(p, round(c * 100)) for p, c in depth.book_levels(last[t])["no_bids"]] == ladder(sim.books[t], "no")
        for t in SCRIPTED
    )


async def test_followed_markets_that_leave_the_open_list_are_reread_until_settled() -> None:
    """Discovery asks for open markets; a followed one that closed is re-read so its result reaches the catalog."""
    import json
    from pathlib import Path

    from connectors.kalshi.normalize import market_to_listing
    from schemas.enums import ListingStatus

    recorded = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "kalshi" / "markets_list_demo_KXNFLGAME.json")
                          .read_text())["markets"][0]
    ticker = recorded["ticker"]
    clock, stop = Clock(), asyncio.Event()
    feed = ScriptedFeed([], clock, stop)
    feed.listings = [[market_to_listing(recorded, 1)], [], []]
    svc = service(feed, clock)
    await svc.discover_once()
    assert svc.markets == (ticker,) and feed.refreshed == []
    # made-up transitions of the recorded market: closed (result pending), then finalized with its result
    feed.later = {ticker: market_to_listing({**recorded, "status": "closed"}, 2)}
    await svc.discover_once()
    assert feed.refreshed == [[ticker]] and svc.markets == (ticker,)  # still followed: not settled yet
    feed.later = {ticker: market_to_listing({**recorded, "status": "finalized", "result": "no"}, 3)}
    await svc.discover_once()
    assert feed.later[ticker].lifecycle is ListingStatus.SETTLED and feed.later[ticker].settlement_micros == 0
    assert feed.refreshed == [[ticker], [ticker]] and svc.markets == ()
