"""The feed over the simulator's sockets: raw first, listings, quotes, dead letters and a resync after a gap."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.feed import FeedStats, KalshiFeed
from connectors.kalshi.rest import KalshiRest
from connectors.kalshi.simulator import KalshiSimulator, ladder
from connectors.kalshi.ws import KalshiWs
from schemas import depth
from schemas.records import MarketListing, Quote, RawFeed

SCRIPTED = ("KXNFLGAME-25DEC27BALGB-GB", "KXNFLGAME-25NOV27GBDET-GB")
#: Garbage, a message type the feed does not handle, and (made up, in the doc example's shape) a market determined.
GARBAGE = ["garbage{", '{"type":"market_position","sid":99,"msg":{"market_ticker":"X"}}',
           '{"type":"market_lifecycle_v2","sid":98,"msg":{"market_ticker":"%s","event_type":"determined","result":"yes"}}'
           % SCRIPTED[1]]


@dataclass
class RecordingSink:
    """Publisher stand-in that keeps (topic, key, record) in order."""

    published: list[tuple[str, str, Any]] = field(default_factory=list)
    dead: list[tuple[str, bytes, str]] = field(default_factory=list)

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.published.append((topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append((topic, value, str(error)))

    def flush(self, timeout: float = 30.0) -> None:
        return None


def books_match(sim: KalshiSimulator, stats: FeedStats) -> bool:
    """Every scripted delta played and the last quote of each market equals the simulator's true book."""
    if sim.deltas_played != len(sim.script):
        return False
    for ticker, book in sim.books.items():
        q = stats.last_quotes.get(ticker)
        if q is None:
            return False
        for side, levels in (("yes", depth.book_levels(q)["yes_bids"]), ("no", depth.book_levels(q)["no_bids"])):
            if [(p, round(c * 100)) for p, c in levels] != ladder(book, side):
                return False
    return True


async def run_feed(sink: Any, signer: KalshiSigner, *, gap_at: int | None) -> tuple[KalshiSimulator, list[MarketListing], FeedStats]:
    """Discovery, one REST quote, then the websocket until the books match the simulator's."""
    ticks = itertools.count(1_766_869_000_000, 7)
    clock = lambda: next(ticks)  # noqa: E731 - deterministic receive times
    async with KalshiSimulator(public_key_pem=signer.public_key_pem(), gap_at=gap_at, extra_frames=GARBAGE) as sim:
        async with KalshiRest(sim.rest_url, signer=signer, clock=clock) as rest:
            feed = KalshiFeed(sink, rest, ws_factory=lambda: KalshiWs(sim.ws_url, signer=signer, clock=clock), clock=clock)
            listings = await feed.discover(["KXNFLGAME"])
            await feed.rest_quotes([SCRIPTED[0]])
            stats = await asyncio.wait_for(feed.stream(list(SCRIPTED), until=lambda s: books_match(sim, s)), 30)
        assert sim.auth_failures == 0
    return sim, listings, stats


async def test_feed_publishes_raw_first_then_listings_and_correct_quotes(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    sink = RecordingSink()
    sim, listings, stats = await run_feed(sink, signer, gap_at=5)
    topics = [t for t, _, _ in sink.published]
    # raw before parsed: the series answer and the first markets page precede the first listing
    assert topics.index("raw.kalshi") < topics.index("markets.catalog")
    first_listing = topics.index("markets.catalog")
    assert any(isinstance(r, RawFeed) and r.endpoint == "markets" for _, _, r in sink.published[:first_listing])
    assert len(listings) == 6 and {x.listing_id for x in listings} >= {f"KALSHI:{t}" for t in SCRIPTED}
    catalog = [(k, r) for t, k, r in sink.published if t == "markets.catalog"]
    assert all(k == r.listing_id for k, r in catalog)
    # the gap was injected, noticed and resynced; the final quotes equal the true books
    assert sim.gaps_injected == 1 and stats.resyncs == 1 and sim.snapshots_sent == 4
    assert books_match(sim, stats)
    quotes = [(k, r) for t, k, r in sink.published if t == "markets.quotes"]
    assert all(isinstance(r, Quote) and k == f"KALSHI:{r.market_id}" for k, r in quotes)
    assert quotes[0][1].source == "kalshi.rest" and quotes[0][1].yes_bid_micros == 610_000
    assert len({r.quote_id for _, r in quotes}) == len(quotes)  # ids are unique per book state
    # every websocket frame went to raw.kalshi; garbage and unknown types were dead-lettered
    assert sum(1 for t, k, _ in sink.published if t == "raw.kalshi" and k == "kalshi:ws") == stats.frames
    errors = [e for _, _, e in sink.dead]
    assert any("not JSON" in e for e in errors) and any("market_position" in e for e in errors)
    # the lifecycle event made the feed read that market's listing again, after the discovery ones
    catalog = [r for t, _, r in sink.published if t == "markets.catalog"]
    assert len(catalog) == len(listings) + 1 and catalog[-1].market_id == SCRIPTED[1]


async def test_refresh_rereads_named_markets_with_the_fees_discovery_read(key_pem: bytes) -> None:
    signer = KalshiSigner.from_pem("test-key", key_pem)
    sink = RecordingSink()
    ticks = itertools.count(1_766_869_000_000, 7)
    clock = lambda: next(ticks)  # noqa: E731 - deterministic receive times
    async with KalshiSimulator(public_key_pem=signer.public_key_pem()) as sim:
        async with KalshiRest(sim.rest_url, signer=signer, clock=clock) as rest:
            feed = KalshiFeed(sink, rest, ws_factory=lambda: KalshiWs(sim.ws_url, signer=signer, clock=clock), clock=clock)
            found = {x.market_id: x for x in await feed.discover(["KXNFLGAME"])}
            again = await feed.refresh([SCRIPTED[1]])
    assert [x.market_id for x in again] == [SCRIPTED[1]]
    assert again[0].taker_fee_rate == found[SCRIPTED[1]].taker_fee_rate
    from dataclasses import replace

    assert replace(again[0], ts=0) == replace(found[SCRIPTED[1]], ts=0)  # unchanged: the router will not re-emit it
    catalog = [r for t, _, r in sink.published if t == "markets.catalog"]
    assert catalog[-1] == again[0] and len(catalog) == len(found) + 1
