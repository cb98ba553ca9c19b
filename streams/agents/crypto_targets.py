"""Crypto targets agents: crypto listings and CoinGecko spot states in, price-target EventStates out.

Listings (keyed by market) and spots (keyed by spot event) do not share keys, so
the first agent re-keys what the processor uses by asset onto an internal topic;
the second holds one AssetState per asset in a changelog-backed table and sends
each target state to `events.state`, where discovery links the listings to it and
the router takes it to its shard. Its own outputs come back on `events.state`
and are skipped by `state_key` (their source is not the spot source).
"""

from __future__ import annotations

import faust
import structlog

from schemas.records import EventState, MarketListing
from streams.app import app, settings
from streams.codecs import AVRO, UTF8
from streams.crypto.parse import NotATarget
from streams.crypto.targets import AssetState, TargetsProcessor
from streams.deadletter import good_records, send_dead_letter
from streams.tables import table
from streams.topics import topic

log = structlog.get_logger(__name__)
SERVICE = "crypto-targets"
processor = TargetsProcessor()

sources = app.topic("markets.catalog", "events.state", key_serializer=UTF8, value_serializer=AVRO)
by_asset = app.topic(f"{settings.app_id}-crypto-by-asset", partitions=12, internal=True, key_serializer=UTF8, value_serializer=AVRO)
assets = table("crypto-targets", values="raw")


@app.agent(sources)
async def rekey_crypto(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        if not isinstance(record, (MarketListing, EventState)):
            await send_dead_letter(event, f"crypto targets take MarketListing/EventState, got {type(record).__name__}", SERVICE)
            continue
        key = processor.state_key(record)
        if key is not None:
            await by_asset.send(key=key, value=record)


@app.agent(by_asset)
async def crypto_targets(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        asset = event.key
        blob = assets.get(asset)
        state = AssetState.from_bytes(bytes(blob)) if blob else processor.initial(asset)
        try:
            state, outputs = processor.step(state, record)
        except (NotATarget, ValueError) as exc:
            await send_dead_letter(event, exc, SERVICE)
            continue
        assets[asset] = state.to_bytes()
        for out in outputs:
            await topic("events.state").send(key=out.event_id, value=out)
