"""The whole connector over real sockets against the local simulator, into an in-memory sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.polymarket.clob import ClobClient
from connectors.polymarket.feed import PolymarketFeed
from connectors.polymarket.gamma import GammaClient
from connectors.polymarket.simulator import PolymarketSimulator, mirror_book
from connectors.polymarket.ws import MarketStream
from schemas import depth
from schemas.records import MarketListing, Quote, RawFeed

from .conftest import ETH15_MARKET, ETH15_NO, ETH15_YES, lines, load


@dataclass
class MemorySink:
    records: list[tuple[str, str, Any]] = field(default_factory=list)
    dead: list[tuple[str, bytes, str]] = field(default_factory=list)

    def publish(self, topic: str, key: str, record: Any) -> None:
        self.records.append((topic, key, record))

    def dead_letter(self, topic: str, value: bytes, error: BaseException | str, ts: int, key: str | None = None) -> None:
        self.dead.append((topic, value, str(error)))


def simulator() -> PolymarketSimulator:
    yes = load("clob_book_2026-01-04.json")
    return PolymarketSimulator(events=load("gamma_events_list_active_2026-01-04.json"),
                               books=[yes, mirror_book(yes, ETH15_NO)],
                               script=lines("scripted_eth15m_stream.ndjson"))


FRAMES = 1 + len(lines("scripted_eth15m_stream.ndjson"))  # subscribe snapshots + the script


async def test_feed_publishes_raw_listings_quotes_and_resyncs() -> None:
    sim = simulator()
    await sim.start()
    sink = MemorySink()
    try:
        async with httpx.AsyncClient() as http:
            gamma = GammaClient(http, sim.base_url, clock=lambda: 1767554000000, page_limit=4)
            feed = PolymarketFeed(sink, gamma, ClobClient(http, sim.base_url, clock=lambda: 1767554000000),
                                  clock=lambda: 1767554000000)
            listings = await feed.discover()
            eth = next(x for x in listings if x.market_id == ETH15_MARKET)
            feed.track(eth)
            stream = MarketStream(feed.asset_ids, sim.ws_url, max_reconnects=0)
            stats = await feed.run(stream, stop=lambda s: s.frames >= FRAMES)
    finally:
        await sim.stop()
    topics = [t for t, _, _ in sink.records]
    assert topics[0] == "raw.polymarket" and topics.count("markets.catalog") == 10
    assert sum(1 for t, k, r in sink.records if t == "raw.polymarket" and k == "polymarket:events") == 3  # 4+4+2
    # every catalog record comes after the raw page it was built from
    assert topics.index("markets.catalog") > topics.index("raw.polymarket")
    assert sim.subscriptions[0]["assets_ids"] == [ETH15_YES, ETH15_NO]
    assert stats.resyncs == 2 and sim.book_requests == {ETH15_YES: 1, ETH15_NO: 1}
    assert stats.dead_letters == 3  # garbage frame, unknown event type, legacy flat price_change
    quotes = [r for t, _, r in sink.records if t == "markets.quotes"]
    assert all(isinstance(q, Quote) for q in quotes)
    assert {k for t, k, _ in sink.records if t == "markets.quotes"} == {f"POLYMARKET:{ETH15_MARKET}"}
    final = quotes[-1]
    assert depth.book_levels(final)["yes_bids"][:4] == [(505_000, 40.0), (500_000, 350.0), (490_000, 1028.0), (480_000, 918.0)]
    assert depth.book_levels(final)["yes_asks"][:3] == [(510_000, 1000.0), (530_000, 582.0), (540_000, 572.0)]
    assert depth.book_levels(final)["no_bids"][:3] == [(490_000, 1000.0), (470_000, 582.0), (460_000, 572.0)]
    assert depth.book_levels(final)["no_asks"][:3] == [(495_000, 40.0), (500_000, 350.0), (510_000, 1028.0)]
    assert (final.yes_bid_micros, final.yes_ask_micros, final.no_bid_micros, final.no_ask_micros) == (505_000, 510_000, 490_000, 495_000)
    assert len(depth.book_levels(final)["yes_bids"]) == 22 and len(depth.book_levels(final)["yes_asks"]) == 19  # 20 recorded + 0.50 + 0.505; 0.52 removed
    # never a quote from the wrong (late-applied) book: no quote ever shows 0.50 x 120
    assert all((500_000, 120.0) not in depth.book_levels(q)["yes_bids"] for q in quotes)
    raw_ws = [r for t, k, r in sink.records if t == "raw.polymarket" and k == "polymarket:ws/market"]
    assert len(raw_ws) == FRAMES and all(isinstance(r, RawFeed) for r in raw_ws)
    assert isinstance(next(r for t, _, r in sink.records if t == "markets.catalog"), MarketListing)


async def test_refresh_rereads_tracked_markets_and_publishes_their_resolution() -> None:
    """The recorded resolved gamma MLB market (Brewers vs. Nationals) served by /markets?condition_ids=…"""
    import json
    from pathlib import Path

    from schemas.enums import ListingStatus

    mlb = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
                      / "mlb-mil-wsh-2025-08-02_gamma_market_570439.json").read_text())
    sim = PolymarketSimulator(events=[], markets=[mlb], books=[])
    await sim.start()
    sink = MemorySink()
    try:
        async with httpx.AsyncClient() as http:
            gamma = GammaClient(http, sim.base_url, clock=lambda: 1754181600000)
            feed = PolymarketFeed(sink, gamma, ClobClient(http, sim.base_url, clock=lambda: 1754181600000),
                                  clock=lambda: 1754181600000)
            (listing,) = await feed.refresh([mlb["conditionId"]])
            assert await feed.refresh(["0xnot-a-market"]) == []
    finally:
        await sim.stop()
    assert listing.market_id == mlb["conditionId"] and listing.lifecycle is ListingStatus.SETTLED
    assert listing.settlement_micros == 1_000_000
    topics = [t for t, _, _ in sink.records]
    assert topics[:2] == ["raw.polymarket", "markets.catalog"] and sink.records[1][2] == listing
