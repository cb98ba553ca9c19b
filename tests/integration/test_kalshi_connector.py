"""Kalshi against the simulator, into a real Kafka broker: listings, quotes, a resync after a gap.

The registry's topics are shared with other tests, so the test records each
topic's end offsets before producing and reads only what came after, picking
its records out by key.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from connectors.kalshi.auth import KalshiSigner
from connectors.publisher import Publisher
from ops.topics import ensure_topics
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import MarketType, Venue
from schemas.records import DeadLetter, MarketListing, Quote, RawFeed
from connectors.kalshi.simulator import ladder
from tests.unit.kalshi.test_feed import SCRIPTED, run_feed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOPICS = ("raw.kalshi", "markets.catalog", "markets.quotes", "deadletter")


def _ends(bootstrap: str, topic: str, wait_s: float = 30.0) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"kalshi-it-{uuid.uuid4().hex[:8]}"})
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                parts = c.list_topics(topic, timeout=15).topics[topic].partitions
                return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in parts}
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{topic}: no leaders after {wait_s}s: {exc}") from exc
                time.sleep(0.2)
    finally:
        c.close()


def _read(bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int]) -> Iterator[tuple[str, int, Any]]:
    """(key, partition, decoded record) of every record in [start, end) of each partition, in offset order."""
    codec = default_codec()
    pending = {p for p in end if end[p] > start.get(p, 0)}
    if not pending:
        return
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"kalshi-it-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in pending])
    try:
        while pending:
            msg = c.poll(15)
            assert msg is not None, f"{topic}: nothing more to read, still waiting on {sorted(pending)}"
            assert msg.error() is None, msg.error()
            if msg.partition() in pending and msg.offset() < end[msg.partition()]:
                yield (msg.key() or b"").decode(), msg.partition(), codec.decode(msg.value())
                if msg.offset() + 1 >= end[msg.partition()]:
                    pending.discard(msg.partition())
    finally:
        c.close()


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import asyncio

    from cryptography.hazmat.primitives.asymmetric import rsa

    report = ensure_topics(kafka_bootstrap)
    assert not [p for p in report.problems if p.split(":")[0] in TOPICS], report.problems
    start = {t: _ends(kafka_bootstrap, t) for t in TOPICS}
    signer = KalshiSigner("it-key", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    publisher = Publisher(kafka_bootstrap, service="kalshi-connector-it")
    sim, listings, stats = asyncio.run(run_feed(publisher, signer, gap_at=5))
    publisher.flush(30)
    end = {t: _ends(kafka_bootstrap, t) for t in TOPICS}
    return {
        "sim": sim,
        "stats": stats,
        "listings": listings,
        "read": {t: list(_read(kafka_bootstrap, t, start[t], end[t])) for t in TOPICS},
    }


def test_listings_on_the_broker_are_the_recorded_markets(run: dict[str, Any]) -> None:
    catalog = [(k, r) for k, _, r in run["read"]["markets.catalog"] if k.startswith("KALSHI:KXNFLGAME-")]
    by_key = {k: r for k, r in catalog}
    assert set(by_key) >= {f"KALSHI:{t}" for t in SCRIPTED} and len(by_key) == 6
    gb = by_key["KALSHI:KXNFLGAME-25DEC27BALGB-GB"]
    assert isinstance(gb, MarketListing) and gb == next(x for x in run["listings"] if x.listing_id == gb.listing_id)
    assert (gb.venue, gb.group_id, gb.series, gb.yes_outcome, gb.league) == (Venue.KALSHI, "KXNFLGAME-25DEC27BALGB", "KXNFLGAME", "Green Bay", "nfl")
    assert gb.market_type is MarketType.SPORT and gb.tick_micros == 10_000 and gb.taker_fee_rate == 0.07


def test_quotes_on_the_broker_end_in_the_true_books_after_a_resync(run: dict[str, Any]) -> None:
    sim, stats = run["sim"], run["stats"]
    assert sim.gaps_injected == 1 and stats.resyncs == 1
    quotes = [(k, p, r) for k, p, r in run["read"]["markets.quotes"] if k in {f"KALSHI:{t}" for t in SCRIPTED}]
    assert all(isinstance(r, Quote) for _, _, r in quotes)
    for ticker in SCRIPTED:
        mine = [(p, r) for k, p, r in quotes if k == f"KALSHI:{ticker}" and r.source == "kalshi.ws"]
        assert len({p for p, _ in mine}) == 1  # one key, one partition: per-market order is kept
        last = mine[-1][1]
        book = sim.books[ticker]
        assert [(p, round(c * 100)) for p, c in depth.book_levels(last)["yes_bids"]] == ladder(book, "yes")
        assert [(p, round(c * 100)) for p, c in depth.book_levels(last)["no_bids"]] == ladder(book, "no")
        assert [(p, round(c * 100)) for p, c in depth.book_levels(last)["yes_asks"]] == sorted((1_000_000 - p, c) for p, c in book.no.items())
        assert last.quote_id == stats.last_quotes[ticker].quote_id
    gb = [r for k, _, r in quotes if k == "KALSHI:KXNFLGAME-25DEC27BALGB-GB" and r.source == "kalshi.ws"][-1]
    assert (gb.yes_bid_micros, gb.yes_bid_size, gb.yes_ask_micros, gb.yes_ask_size) == (620_000, 100.0, 630_000, 1500.25)


def test_raw_payloads_and_dead_letters_reach_the_broker(run: dict[str, Any]) -> None:
    raw = [r for _, _, r in run["read"]["raw.kalshi"]]
    assert all(isinstance(r, RawFeed) and r.source == "kalshi" for r in raw)
    assert {r.endpoint for r in raw} >= {"series/{series_ticker}", "markets", "markets/{ticker}/orderbook", "ws"}
    assert sum(1 for r in raw if r.endpoint == "ws") >= run["stats"].frames
    dead = [r for k, _, r in run["read"]["deadletter"] if isinstance(r, DeadLetter) and r.service == "kalshi-connector-it"]
    assert {d.error_type for d in dead} >= {"BadPayload", "UnknownMessageType"}
    assert any(d.value == b"garbage{" for d in dead)
