"""The service loops: market channel reconnects with backoff, resubscription, stop on a signal.

`MarketStream` is exercised over real sockets (a local server that drops every
connection, and a port nobody listens on) with an injected sleep, rng and
monotonic clock; the service loops against a scripted feed; `serve` end to end
against the simulator, stopped by a real SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from connectors.polymarket.errors import TransientError
from connectors.polymarket.feed import FeedStats
from connectors.polymarket.runner import Endpoints, serve
from connectors.polymarket.service import PolymarketService, ServiceConfig, pick_new
from connectors.polymarket.simulator import PolymarketSimulator
from connectors.lifecycle import Backoff
from connectors.polymarket.ws import Frame, MarketStream
from schemas import depth
from schemas.enums import MarketType, Venue
from schemas.records import MarketListing

from .conftest import ETH15_MARKET, ETH15_NO, ETH15_YES, lines
from .test_feed_simulator import FRAMES, MemorySink


class TopRng(random.Random):
    """uniform(a, b) → b: the largest jitter, so every delay is known."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Clock:
    now: float = 0.0
    step: float = 0.0  # how far each monotonic() read moves time (a connection's lifetime)
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def listing(cid: str, *, status: str = "open", close_ts: int | None = None) -> MarketListing:
    return MarketListing(
        listing_id=f"POLYMARKET:{cid}", venue=Venue.POLYMARKET, market_id=cid, ts=0, group_id="g", series=None,
        title=cid, subtitle="", yes_outcome="Yes", market_type=MarketType.SPORT, league="nba", status=status,
        open_ts=None, close_ts=close_ts, settle_ts=None, tick_micros=10_000, tick_bands=[], taker_fee_rate=0.0,
        maker_fee_rate=0.0, fee_exponent=1.0, min_order_size=5.0, token_yes=f"{cid}-yes", token_no=f"{cid}-no",
        neg_risk=False, rules="", resolution_source="", result=None,
    )


# ------------------------------------------------------------------ MarketStream over sockets


async def dropping_server() -> tuple[web.AppRunner, str, list[dict[str, Any]]]:
    """A market channel that answers each subscription with one frame, then closes the connection."""
    subscriptions: list[dict[str, Any]] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        if msg.type is WSMsgType.TEXT:
            subscriptions.append(json.loads(msg.data))
            await ws.send_str(json.dumps([{"event_type": "book", "n": len(subscriptions)}]))
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws/market", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"ws://127.0.0.1:{port}/ws/market", subscriptions


async def collect(stream: MarketStream) -> list[Frame]:
    return [f async for f in stream.frames()]


@pytest.mark.parametrize(("lifetime", "delays"), [(0.0, [0.5, 1.0, 2.0]), (40.0, [0.5, 0.5, 0.5])])
async def test_market_stream_reconnects_and_resubscribes_after_every_drop(lifetime: float, delays: list[float]) -> None:
    runner, url, subscriptions = await dropping_server()
    clock = Clock(step=lifetime)  # each read of the clock is one connection lifetime later
    try:
        stream = MarketStream(["a", "b"], url, max_reconnects=3, backoff=Backoff(base_s=0.5, cap_s=30.0),
                              sleep=clock.sleep, rng=TopRng(), monotonic=clock.monotonic, healthy_after_s=30.0)
        frames = await asyncio.wait_for(collect(stream), 10)
    finally:
        await runner.cleanup()
    assert [f.connection for f in frames] == [1, 2, 3, 4]
    assert [json.loads(f.text)[0]["n"] for f in frames] == [1, 2, 3, 4]
    assert [s["assets_ids"] for s in subscriptions] == [["a", "b"]] * 4  # every connection subscribes again
    # connections dropped at once grow the backoff; ones that lived past healthy_after_s start it over
    assert stream.delays == clock.slept == delays


async def test_market_stream_backs_off_while_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clock = Clock()
    stream = MarketStream(["a"], f"ws://127.0.0.1:{port}/ws/market", max_reconnects=5,
                          backoff=Backoff(base_s=0.5, cap_s=4.0), sleep=clock.sleep, rng=TopRng())
    assert await asyncio.wait_for(collect(stream), 10) == []
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 4.0] and stream.connections == 0


# ------------------------------------------------------------------ service loops


@dataclass
class ScriptedFeed:
    """`run()` plays the next step: an exception to raise, or None to block until cancelled."""

    clock: Clock
    steps: list[BaseException | tuple[float, BaseException] | None] = field(default_factory=list)
    stats: FeedStats = field(default_factory=FeedStats)
    streams: list[list[str]] = field(default_factory=list)
    invalidated: list[str] = field(default_factory=list)
    listings: list[MarketListing] = field(default_factory=list)
    tracked: dict[str, MarketListing] = field(default_factory=dict)
    running: asyncio.Event = field(default_factory=asyncio.Event)
    later: dict[str, MarketListing] = field(default_factory=dict)  # what refresh() answers per market
    refreshed: list[list[str]] = field(default_factory=list)

    async def discover(self, **filters: Any) -> list[MarketListing]:
        return [x for x in self.listings if filters.get("tag_slug") in (None, x.league)]

    async def refresh(self, condition_ids: list[str]) -> list[MarketListing]:
        self.refreshed.append(list(condition_ids))
        return [self.later[c] for c in condition_ids if c in self.later]

    def track(self, x: MarketListing) -> None:
        self.tracked[x.market_id] = x

    def invalidate(self, reason: str) -> None:
        self.invalidated.append(reason)

    async def run(self, stream: MarketStream, stop: Callable[[FeedStats], bool]) -> FeedStats:
        self.streams.append(list(stream.asset_ids))
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, tuple):
            lived, step = step
            self.clock.now += lived
        if step is not None:
            raise step
        self.running.set()
        await asyncio.Event().wait()
        return self.stats

    @property
    def asset_ids(self) -> list[str]:
        return [t for x in self.tracked.values() for t in (x.token_yes or "", x.token_no or "")]

    @property
    def tracked_markets(self) -> tuple[str, ...]:
        return tuple(self.tracked)


def make_service(feed: ScriptedFeed, clock: Clock, **config: Any) -> PolymarketService:
    cfg = ServiceConfig(tags=("nba",), backoff=Backoff(base_s=1.0, cap_s=8.0), **config)
    return PolymarketService(feed, cfg, lambda assets: MarketStream(assets, "ws://unused"),
                             sleep=clock.sleep, rng=TopRng(), monotonic=clock.monotonic)


def test_pick_new_keeps_open_untracked_markets_soonest_close_first_within_room() -> None:
    xs = [listing("late", close_ts=300), listing("shut", status="closed", close_ts=1), listing("soon", close_ts=100),
          listing("known", close_ts=50), listing("undated"), listing("mid", close_ts=200)]
    chosen, skipped = pick_new(xs, {"known"}, room=6)
    assert [x.market_id for x in chosen] == ["soon", "mid", "late"] and skipped == 1
    assert pick_new(xs, {"known"}, room=1) == ([], 4)


async def test_new_markets_replace_the_stream_with_one_subscribing_them_all() -> None:
    clock, stop = Clock(), asyncio.Event()
    feed = ScriptedFeed(clock)
    svc = make_service(feed, clock)
    feed.listings = [listing("m1", close_ts=2)]
    await svc.discover_once()
    task = asyncio.create_task(svc.stream_forever(stop))
    await asyncio.wait_for(feed.running.wait(), 5)
    feed.running.clear()
    feed.listings = [listing("m1", close_ts=2), listing("m2", close_ts=1)]
    await svc.discover_once()
    await asyncio.wait_for(feed.running.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert feed.streams == [["m1-yes", "m1-no"], ["m1-yes", "m1-no", "m2-yes", "m2-no"]]
    assert feed.invalidated == ["resubscribing"] and svc.stats.resubscribes == 1 and clock.slept == []


async def test_a_failing_feed_is_resubscribed_with_backoff_and_a_bug_is_raised() -> None:
    clock, stop = Clock(), asyncio.Event()
    failing = TransientError("GET /book: HTTP 503")
    feed = ScriptedFeed(clock, steps=[failing, failing, failing, (45.0, failing), failing, RuntimeError("bug")])
    svc = make_service(feed, clock)
    feed.listings = [listing("m1")]
    await svc.discover_once()
    with pytest.raises(RuntimeError, match="bug"):
        await asyncio.wait_for(svc.stream_forever(stop), 5)
    assert clock.slept == [1.0, 2.0, 4.0, 1.0, 2.0]  # a stream that lived 45 s started the backoff over
    assert svc.stats.stream_failures == 5 and len(feed.invalidated) == 5
    assert all(s == ["m1-yes", "m1-no"] for s in feed.streams)


# ------------------------------------------------------------------ the whole service, stopped by a signal


@dataclass
class FlushCountingSink(MemorySink):
    flushes: int = 0

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1


def final_quote_seen(sink: MemorySink) -> bool:
    quotes = [r for t, _, r in sink.records if t == "markets.quotes" and r.market_id == ETH15_MARKET]
    return bool(quotes) and depth.book_levels(quotes[-1])["yes_bids"][:2] == [(505_000, 40.0), (500_000, 350.0)]


async def test_serve_streams_the_simulator_until_sigterm_then_flushes() -> None:
    sim = PolymarketSimulator.from_fixtures(frame_interval_s=0.0)
    await sim.start()
    sink = FlushCountingSink()

    async def terminate_when_done() -> None:
        while not final_quote_seen(sink) or sum(k == "polymarket:ws/market" for _, k, _ in sink.records) < FRAMES:
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        killer = asyncio.create_task(terminate_when_done())
        svc = await asyncio.wait_for(
            serve("unused:9092", ServiceConfig(tags=()), Endpoints(sim.base_url, sim.base_url, sim.ws_url), publisher=sink), 30)
        await killer
    finally:
        await sim.stop()
    assert sink.flushes == 1 and svc.stats.streams == 1 and svc.stats.discoveries == 1
    assert {ETH15_YES, ETH15_NO} <= set(sim.subscriptions[0]["assets_ids"])
    assert sum(1 for t, _, _ in sink.records if t == "markets.catalog") == 10
    assert len(sink.dead) == 3 and len(lines("scripted_eth15m_stream.ndjson")) + 1 == FRAMES
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def test_tracked_markets_that_leave_discovery_are_reread_until_resolved() -> None:
    import json
    from pathlib import Path

    from connectors.polymarket.gamma import event_of_market, parse_gamma_market
    from connectors.polymarket.normalize import listing_from_gamma

    raw = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
                      / "mlb-mil-wsh-2025-08-02_gamma_market_570439.json").read_text())
    # made-up earlier states of the recorded market: open, then closed with its UMA proposal pending
    open_ = {**raw, "closed": False, "acceptingOrders": True, "enableOrderBook": True, "umaResolutionStatus": None}
    pending = {**raw, "umaResolutionStatus": "proposed"}
    as_listing = lambda m: listing_from_gamma(parse_gamma_market(m), event_of_market(m), 1)  # noqa: E731
    clock = Clock()
    feed = ScriptedFeed(clock, listings=[replace(as_listing(open_), league="nba")])
    svc = make_service(feed, clock)
    await svc.discover_once()
    cid = raw["conditionId"]
    assert list(feed.tracked) == [cid] and feed.refreshed == []
    feed.listings = []  # closed: gone from the active events
    feed.later = {cid: as_listing(pending)}
    await svc.discover_once()
    await svc.discover_once()
    assert feed.refreshed == [[cid], [cid]]  # not resolved yet: read again
    feed.later = {cid: as_listing(raw)}
    await svc.discover_once()
    await svc.discover_once()
    assert feed.refreshed == [[cid], [cid], [cid]]  # resolved: no longer re-read
