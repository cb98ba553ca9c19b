"""Target agents: venue listings plus feed states in, target EventStates out (crypto prices, economic releases,
politics races from polls).

Listings (keyed by market) and feed states (keyed by their own event) do not share
keys, so for each processor a first agent re-keys what it uses (by asset, by
indicator) onto an internal topic; a second holds one state per key in a
changelog-backed table and sends each target state to `events.state`, where
discovery links the listings to it and the router takes it to its shard. The
processors' own outputs come back on `events.state` and are skipped by their
`state_key` (their source is not a feed's).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import faust
import structlog

from schemas.records import EventState, MarketListing
from schemas.topics import Family, partitions
from streams.app import app, settings
from streams.codecs import AVRO, UTF8
from streams.crypto.targets import AssetState
from streams.crypto.targets import TargetsProcessor as CryptoTargets
from streams.deadletter import good_records, send_dead_letter
from streams.economics.targets import IndicatorState
from streams.economics.targets import TargetsProcessor as EconTargets
from streams.politics.races import RacesProcessor, RaceState
from streams.tables import table
from streams.topics import topic

log = structlog.get_logger(__name__)
sources = app.topic("markets.catalog", "events.state", key_serializer=UTF8, value_serializer=AVRO)


class Processor(Protocol):
    def state_key(self, record: Any) -> str | None: ...

    def initial(self, key: str) -> Any: ...

    def step(self, state: Any, record: Any) -> tuple[Any, list[EventState]]: ...


def _agents(name: str, processor: Processor, load: Callable[[bytes], Any]) -> None:
    """Declare the re-key agent, the internal topic, the table and the stepping agent of one processor."""
    service = f"{name}-targets"
    by_key = app.topic(f"{settings.app_id}-{name}-targets-by-key", partitions=partitions(Family.EVENT), internal=True, key_serializer=UTF8, value_serializer=AVRO)
    states = table(f"{name}-targets", values="raw")

    async def rekey(stream: faust.StreamT) -> None:
        async for event, record in good_records(stream, service):
            if not isinstance(record, (MarketListing, EventState)):
                await send_dead_letter(event, f"{service} takes MarketListing/EventState, got {type(record).__name__}", service)
                continue
            key = processor.state_key(record)
            if key is not None:
                await by_key.send(key=key, value=record)

    async def targets(stream: faust.StreamT) -> None:
        async for event, record in good_records(stream, service):
            key = event.key
            blob = states.get(key)
            state = load(bytes(blob)) if blob else processor.initial(key)
            try:
                state, outputs = processor.step(state, record)
            except ValueError as exc:  # includes NotATarget: a record the processor cannot use
                await send_dead_letter(event, exc, service)
                continue
            states[key] = state.to_bytes()
            for out in outputs:
                await topic("events.state").send(key=out.event_id, value=out)

    app.agent(sources, name=f"{name}_rekey")(rekey)
    app.agent(by_key, name=f"{name}_targets")(targets)


_agents("crypto", CryptoTargets(), AssetState.from_bytes)
_agents("econ", EconTargets(), IndicatorState.from_bytes)
_agents("politics", RacesProcessor(), RaceState.from_bytes)
