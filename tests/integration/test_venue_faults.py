"""Venue faults through the simulators into the real broker: a 429 storm is waited out, never hammered.

The Kalshi simulator answers the next n REST requests with 429 and a Retry-After; the
simulator stamps each request's arrival, so the spacing the client kept is measured
on the venue's side, not trusted from the client.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.errors import TransientKalshiError
from connectors.kalshi.feed import KalshiFeed
from connectors.kalshi.rest import KalshiRest
from connectors.kalshi.simulator import KalshiSimulator
from connectors.kalshi.ws import KalshiWs
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas.records import MarketListing
from tests.integration.test_kalshi_connector import _ends, _read

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RETRY_AFTER_S = 0.3


async def _discover(publisher: Any, signer: KalshiSigner, throttled: int) -> tuple[KalshiSimulator, Any]:
    ticks = itertools.count(1_766_869_000_000, 7)
    clock = lambda: next(ticks)  # noqa: E731 - deterministic receive times
    async with KalshiSimulator(public_key_pem=signer.public_key_pem(), throttled=throttled,
                               retry_after_s=RETRY_AFTER_S) as sim:
        async with KalshiRest(sim.rest_url, signer=signer, clock=clock) as rest:
            feed = KalshiFeed(publisher, rest, ws_factory=lambda: KalshiWs(sim.ws_url, signer=signer, clock=clock), clock=clock)
            try:
                outcome: Any = await feed.discover(["KXNFLGAME"])
            except TransientKalshiError as exc:
                outcome = exc
    return sim, outcome


def _gaps(sim: KalshiSimulator) -> list[float]:
    times = [t for t, _, _ in sim.requests]
    return [b - a for a, b in zip(times, times[1:])]


@pytest.fixture(scope="module")
def signer() -> KalshiSigner:
    return KalshiSigner("it-key", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_a_429_storm_is_waited_out_per_retry_after_and_listings_reach_the_broker(kafka_bootstrap: str, signer: KalshiSigner) -> None:
    ensure_topics(kafka_bootstrap)
    start = _ends(kafka_bootstrap, "markets.catalog")
    publisher = Publisher(kafka_bootstrap, service="kalshi-faults-it")
    sim, listings = asyncio.run(_discover(publisher, signer, throttled=3))
    publisher.flush(30)
    statuses = [s for _, _, s in sim.requests]
    assert statuses[:4] == [429, 429, 429, 200]  # the series answer after three refusals
    gaps = _gaps(sim)
    assert min(gaps[:3]) >= RETRY_AFTER_S * 0.95, gaps  # each retry waited the venue's Retry-After: no burst
    assert isinstance(listings, list) and len(listings) == 6
    end = _ends(kafka_bootstrap, "markets.catalog")
    on_broker = {r.listing_id for _, _, r in _read(kafka_bootstrap, "markets.catalog", start, end) if isinstance(r, MarketListing)}
    assert {x.listing_id for x in listings} <= on_broker


def test_a_storm_longer_than_the_retry_budget_gives_up_without_a_burst(signer: KalshiSigner) -> None:
    class Nowhere:  # nothing may be published: the only answers are refusals
        def publish(self, *a: Any) -> None:
            raise AssertionError(f"published {a[:2]}")

        def dead_letter(self, *a: Any, **k: Any) -> None:
            raise AssertionError("dead-lettered")

    sim, outcome = asyncio.run(_discover(Nowhere(), signer, throttled=100))
    assert isinstance(outcome, TransientKalshiError) and outcome.status == 429
    assert [s for _, _, s in sim.requests] == [429] * 4  # the retry policy's four attempts, then the caller backs off
    assert min(_gaps(sim)) >= RETRY_AFTER_S * 0.95


def test_a_dropped_websocket_is_reconnected_and_the_books_end_true_on_the_broker(kafka_bootstrap: str, signer: KalshiSigner) -> None:
    """The simulator closes the connection with a delta applied but unsent; the service reconnects, the
    fresh snapshots carry it, and the last quote of each market on the broker equals the venue's true book."""
    from connectors.kalshi.service import KalshiService, ServiceConfig
    from connectors.lifecycle import Backoff
    from schemas.records import Quote
    from tests.unit.kalshi.test_feed import books_match

    ensure_topics(kafka_bootstrap)
    start = _ends(kafka_bootstrap, "markets.quotes")
    publisher = Publisher(kafka_bootstrap, service="kalshi-faults-it")

    async def run() -> tuple[KalshiSimulator, Any, Any]:
        async with KalshiSimulator(public_key_pem=signer.public_key_pem(), drop_at=4) as sim:
            async with KalshiRest(sim.rest_url, signer=signer) as rest:
                feed = KalshiFeed(publisher, rest, ws_factory=lambda: KalshiWs(sim.ws_url, signer=signer), clock=lambda: 1)
                svc = KalshiService(feed, ServiceConfig(series=("KXNFLGAME",), backoff=Backoff(base_s=0.05, cap_s=0.2)),
                                    use_websocket=True)
                stop = asyncio.Event()
                task = asyncio.ensure_future(svc.run(stop))
                for _ in range(600):
                    if books_match(sim, feed.stats) or task.done():
                        break
                    await asyncio.sleep(0.05)
                stop.set()
                await asyncio.wait_for(task, 10)
        return sim, feed, svc

    sim, feed, svc = asyncio.run(run())
    publisher.flush(30)
    assert sim.drops_injected == 1 and svc.stats.reconnects >= 1 and svc.stats.connections >= 2
    assert books_match(sim, feed.stats)
    end = _ends(kafka_bootstrap, "markets.quotes")
    last: dict[str, Quote] = {}
    for _, _, q in _read(kafka_bootstrap, "markets.quotes", start, end):
        if isinstance(q, Quote) and q.market_id in sim.books:
            last[q.market_id] = q  # one partition per market key: offset order is publish order
    assert set(last) == set(sim.books) and all(last[t] == feed.stats.last_quotes[t] for t in last)


def test_a_polymarket_429_storm_is_waited_out_per_retry_after_and_listings_reach_the_broker(kafka_bootstrap: str) -> None:
    """The Polymarket simulator (recorded gamma events page, tests/fixtures/polymarket) refuses three requests
    with 429 and Retry-After; the gamma client's retries arrive no sooner, and the listings reach the broker."""
    import httpx

    from connectors.polymarket.clob import ClobClient
    from connectors.polymarket.feed import PolymarketFeed
    from connectors.polymarket.gamma import GammaClient
    from connectors.polymarket.simulator import PolymarketSimulator

    ensure_topics(kafka_bootstrap)
    start = _ends(kafka_bootstrap, "markets.catalog")
    publisher = Publisher(kafka_bootstrap, service="polymarket-faults-it")

    async def run() -> tuple[PolymarketSimulator, list[MarketListing]]:
        sim = PolymarketSimulator.from_fixtures()
        sim.throttled, sim.retry_after = 3, f"{RETRY_AFTER_S:g}"
        await sim.start()
        try:
            async with httpx.AsyncClient() as http:
                feed = PolymarketFeed(publisher, GammaClient(http, sim.base_url), ClobClient(http, sim.base_url))
                return sim, await feed.discover()
        finally:
            await sim.stop()

    sim, listings = asyncio.run(run())
    publisher.flush(30)
    assert [s for _, _, s in sim.requests][:4] == [429, 429, 429, 200]
    times = [t for t, _, _ in sim.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps[:3]) >= RETRY_AFTER_S * 0.95, gaps  # no burst: each retry waited the venue's Retry-After
    assert len(listings) == 10
    end = _ends(kafka_bootstrap, "markets.catalog")
    on_broker = {r.listing_id for _, _, r in _read(kafka_bootstrap, "markets.catalog", start, end) if isinstance(r, MarketListing)}
    assert {x.listing_id for x in listings} <= on_broker
