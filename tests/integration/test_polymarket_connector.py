"""The Polymarket connector against the local simulator, onto the real broker.

Recorded Gamma events and CLOB book (tests/fixtures/polymarket) are served by the
simulator over HTTP, the scripted market-channel stream over a websocket; the
feed publishes through the production Publisher; we read the topics back with
confluent-kafka and the contract codec.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition

from connectors.polymarket.clob import ClobClient
from connectors.polymarket.feed import PolymarketFeed
from connectors.polymarket.gamma import GammaClient
from connectors.polymarket.simulator import PolymarketSimulator, mirror_book
from connectors.polymarket.ws import MarketStream
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import MarketType, Venue
from schemas.records import DeadLetter, MarketListing, Quote, RawFeed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"
MARKET = "0x18b5d0680d437c512702d5ffb6f47faef308383e406cbea5468f09a6e7b77582"
YES = "63876354810647379515878234584115568951693647874310381130205788894548916040833"
NO = "64917161910049212782344414295688724357084475362968531440021264550805733226234"
TOPICS = ("raw.polymarket", "markets.catalog", "markets.quotes", "deadletter")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def script() -> list[str]:
    return [ln for ln in (FIXTURES / "scripted_eth15m_stream.ndjson").read_text().splitlines() if ln.strip()]


def high_watermarks(bootstrap: str) -> list[TopicPartition]:
    """Where each topic ends now: we read only what this test writes."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"pm-probe-{uuid.uuid4().hex[:6]}"})
    starts = []
    for topic in TOPICS:
        parts = probe.list_topics(topic, timeout=10).topics[topic].partitions
        for p in parts:
            _, high = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            starts.append(TopicPartition(topic, p, high))
    probe.close()
    return starts


def read_from(bootstrap: str, starts: list[TopicPartition], expect_quotes: int) -> dict[str, list[tuple[str, Any]]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"pm-it-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False})
    consumer.assign(starts)
    codec = default_codec()
    got: dict[str, list[tuple[str, Any]]] = {t: [] for t in TOPICS}
    idle = 0
    while idle < 6:
        msg = consumer.poll(1.0)
        if msg is None:
            idle += 1 if len(got["markets.quotes"]) >= expect_quotes else 0
            continue
        assert msg.error() is None, msg.error()
        got[msg.topic()].append((msg.key().decode(), codec.decode(msg.value())))
        idle = 0
    consumer.close()
    return got


async def test_simulator_to_broker_listings_quotes_raw_and_deadletters(kafka_bootstrap: str) -> None:
    report = ensure_topics(kafka_bootstrap)
    assert not report.problems, report.problems
    starts = high_watermarks(kafka_bootstrap)

    yes_book = load("clob_book_2026-01-04.json")
    frames = script()
    sim = PolymarketSimulator(events=load("gamma_events_list_active_2026-01-04.json"),
                              books=[yes_book, mirror_book(yes_book, NO)], script=frames)
    await sim.start()
    publisher = Publisher(kafka_bootstrap, service="polymarket-feed-it")
    try:
        async with httpx.AsyncClient() as http:
            feed = PolymarketFeed(publisher, GammaClient(http, sim.base_url, page_limit=4), ClobClient(http, sim.base_url))
            listings = await feed.discover()
            feed.track(next(x for x in listings if x.market_id == MARKET))
            stats = await feed.run(MarketStream(feed.asset_ids, sim.ws_url, max_reconnects=0),
                                   stop=lambda s: s.frames >= 1 + len(frames))
        publisher.flush(30)
    finally:
        await sim.stop()
    assert stats.resyncs == 2 and sim.book_requests[YES] == 1 and sim.book_requests[NO] == 1

    got = read_from(kafka_bootstrap, starts, expect_quotes=stats.quotes)

    catalog = dict(got["markets.catalog"])
    assert len(catalog) == 10
    eth = catalog[f"POLYMARKET:{MARKET}"]
    assert isinstance(eth, MarketListing) and eth.venue is Venue.POLYMARKET
    assert (eth.token_yes, eth.token_no, eth.yes_outcome, eth.group_id) == (YES, NO, "Up", "143606")
    assert (eth.tick_micros, eth.min_order_size, eth.market_type, eth.status) == (10_000, 5.0, MarketType.CRYPTO, "open")

    quotes = [q for k, q in got["markets.quotes"] if k == f"POLYMARKET:{MARKET}"]
    assert len(quotes) == stats.quotes and all(isinstance(q, Quote) for q in quotes)
    final = quotes[-1]  # one key → one partition → producer order
    assert depth.book_levels(final)["yes_bids"][:3] == [(505_000, 40.0), (500_000, 350.0), (490_000, 1028.0)]
    assert depth.book_levels(final)["yes_asks"][:2] == [(510_000, 1000.0), (530_000, 582.0)]
    assert depth.book_levels(final)["no_bids"][:2] == [(490_000, 1000.0), (470_000, 582.0)]
    assert depth.book_levels(final)["no_asks"][:2] == [(495_000, 40.0), (500_000, 350.0)]
    assert (final.yes_bid_micros, final.yes_bid_size, final.no_ask_micros) == (505_000, 40.0, 495_000)

    raw = got["raw.polymarket"]
    assert all(isinstance(r, RawFeed) for _, r in raw)
    assert sum(k == "polymarket:events" for k, _ in raw) == 3
    assert sum(k == "polymarket:ws/market" for k, _ in raw) == 1 + len(frames)
    assert sum(k == "polymarket:book" for k, _ in raw) == 2  # the two resync snapshots

    dead = [d for _, d in got["deadletter"] if isinstance(d, DeadLetter) and d.service == "polymarket-feed-it"]
    assert sorted(d.error_type for d in dead) == ["BadPayload", "LegacyPriceChange", "UnknownMessageType"]
