"""Discovery agents: venue listings and event states in, `markets.links` out.

Listings (keyed by market) and states (keyed by event) do not share keys, so a
first agent re-keys both by the processor's `state_key` (market type + league)
onto an internal topic; the second agent then holds one DiscoveryState per key
in a changelog-backed table co-partitioned with that topic. Every worker of the
group therefore sees every event of the leagues it owns, which is all a link
ever needs (links never cross leagues).
"""

from __future__ import annotations

import faust
import structlog

from schemas.records import Alert, EventState, MarketListing
from schemas.topics import Family, partitions
from streams.app import MAX_VALUE_BYTES, app, settings
from streams.codecs import AVRO, UTF8
from streams.tables import table
from streams.deadletter import good_records, send_dead_letter
from streams.discovery import DiscoveryProcessor, DiscoveryState
from streams.topics import topic
from streams.topology import upstream

log = structlog.get_logger(__name__)
SERVICE = "discovery"
processor = DiscoveryProcessor()

sources = app.topic("markets.catalog", "events.state", key_serializer=UTF8, value_serializer=AVRO)
by_scope = app.topic(
    f"{settings.app_id}-discovery-by-scope",
    partitions=partitions(Family.EVENT),
    internal=True,
    key_serializer=UTF8,
    value_serializer=AVRO,
)
states = table("discovery-state", values="raw", extra_topic_configs={"max.message.bytes": str(MAX_VALUE_BYTES)})


@app.agent(sources)
async def rekey(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        if not isinstance(record, (MarketListing, EventState)):
            await send_dead_letter(event, f"discovery takes MarketListing/EventState, got {type(record).__name__}", SERVICE)
            continue
        await by_scope.send(key=processor.state_key(record), value=record)


@app.agent(by_scope)
async def discover(stream: faust.StreamT) -> None:
    async for event, record in good_records(stream, SERVICE):
        key = event.key
        blob = states.get(key)
        state = DiscoveryState.from_bytes(bytes(blob)) if blob else DiscoveryState()
        state, outputs = processor.step(state, record)
        states[key] = state.to_bytes()
        for out in outputs:
            if isinstance(out, Alert):
                log.warning("discovery", message=out.message)
            name, out_key, value = upstream("discovery", out)
            await topic(name).send(key=out_key, value=value)
