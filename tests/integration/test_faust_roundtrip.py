"""The first trip through the real broker: confluent-kafka in, a Faust agent, confluent-kafka out."""

from __future__ import annotations

import asyncio
import uuid

import faust
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from connectors.publisher import make_producer
from schemas import depth
from schemas.codec import default_codec
from schemas.enums import Venue
from schemas.records import Quote
from streams.codecs import AVRO, UTF8, register

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def top_of_book(q: Quote) -> Quote:
    """The agent's transform: fill best bid/ask fields from the depth ladders."""
    from dataclasses import replace

    book = depth.book_levels(q)
    best = lambda levels: levels[0] if levels else (None, 0.0)  # noqa: E731
    (yb, ybs), (ya, yas) = best(book["yes_bids"]), best(book["yes_asks"])
    return replace(q, yes_bid_micros=yb, yes_bid_size=ybs, yes_ask_micros=ya, yes_ask_size=yas, source="agent")


def broker_version(bootstrap: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    cluster = admin.describe_cluster().result(timeout=10)
    node = cluster.nodes[0]
    return f"node {node.id} at {node.host}:{node.port}, cluster {cluster.cluster_id}"


async def test_faust_agent_transforms_records_from_confluent_producer(kafka_bootstrap: str, topic_factory) -> None:
    source = topic_factory("it.quotes.in", partitions=3)
    sink = topic_factory("it.quotes.out", partitions=3)
    print("broker:", broker_version(kafka_bootstrap))

    inputs = [
        Quote(
            f"q{i}", Venue.KALSHI, f"KXNFLGAME-25DEC07M{i % 3}", ts=1_765_134_000_000 + i,
            yes_bid_depth=depth.pack_levels([(440_000 + i * 10_000, 10.0 + i), (430_000, 5.0)]),
            yes_ask_depth=depth.pack_levels([(460_000 + i * 10_000, 3.0)]),
        )
        for i in range(6)
    ]
    producer = make_producer(kafka_bootstrap)
    codec = default_codec()
    for q in inputs:
        producer.produce(source, key=q.market_id.encode(), value=codec.encode(q))
    assert producer.flush(15) == 0

    register()
    app = faust.App(
        f"it-roundtrip-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        key_serializer=UTF8,
        value_serializer=AVRO,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    in_topic = app.topic(source, partitions=3)
    out_topic = app.topic(sink, partitions=3)

    @app.agent(in_topic)
    async def transform(stream: faust.StreamT) -> None:
        async for key, quote in stream.items():
            await out_topic.send(key=key, value=top_of_book(quote))

    await app.start()
    try:
        consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"it-{uuid.uuid4().hex}",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([sink])
        got: dict[str, Quote] = {}
        keys: dict[str, str] = {}
        for _ in range(600):
            msg = await asyncio.to_thread(consumer.poll, 0.1)
            if msg is not None and msg.error() is None:
                q = codec.decode(msg.value())
                got[q.quote_id] = q
                keys[q.quote_id] = msg.key().decode()
            if len(got) == len(inputs):
                break
        consumer.close()
    finally:
        await app.stop()

    assert got == {q.quote_id: top_of_book(q) for q in inputs}
    assert got["q2"].yes_bid_micros == 460_000 and got["q2"].yes_ask_size == 3.0
    assert keys == {q.quote_id: q.market_id for q in inputs}
