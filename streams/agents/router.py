"""Router agents: market data and event states onto `shard.inputs`, keyed by event id.

The per-market route lives in three changelog-backed tables (link, listing,
latest quote), co-partitioned with the `venue:market_id`-keyed source topics.
"""

from __future__ import annotations

import faust

from schemas.records import EventState, MarketLink, MarketListing, Quote
from streams import router
from streams.app import app
from streams.codecs import AVRO, UTF8
from streams.tables import table
from streams.deadletter import good_records, send_dead_letter
from streams.topics import topic
from streams.topology import upstream

SERVICE = "router"

market_topics = app.topic(
    "markets.quotes", "markets.links", "markets.catalog", key_serializer=UTF8, value_serializer=AVRO
)
links = table("router-links")
listings = table("router-listings")
quotes = table("router-quotes")


@app.agent(market_topics)
async def route_markets(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        key = event.key
        if not isinstance(record, (Quote, MarketLink, MarketListing)) or not isinstance(key, str):
            await send_dead_letter(event, f"router takes Quote/MarketLink/MarketListing, got {type(record).__name__}", SERVICE)
            continue
        current = router.MarketRoute(link=links.get(key), listing=listings.get(key), quote=quotes.get(key))
        updated, outputs = router.step(current, record)
        if isinstance(record, Quote):
            quotes[key] = updated.quote
        elif isinstance(record, MarketLink):
            links[key] = updated.link
        else:
            listings[key] = updated.listing
        for _, routed in outputs:
            name, out_key, value = upstream("router", routed)
            await topic(name).send(key=out_key, value=value)


@app.agent(topic("events.state"))
async def route_states(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        if not isinstance(record, EventState):
            await send_dead_letter(event, f"events.state carries EventState, got {type(record).__name__}", SERVICE)
            continue
        name, key, value = upstream("router", router.route_state(record)[1])
        await topic(name).send(key=key, value=value)
