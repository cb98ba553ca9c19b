"""The generic Faust runner: one agent per stage of streams/topology.py, built from its declaration.

For a stage it subscribes one channel to the stage's input topics (the trading inbox is the
worker's internal `<app id>-trading-inbox`), declares its tables with their state codecs on
the changelog, and runs the stage's handler per record with a context whose `emit` routes each
output by the declaration, sends it and waits until the broker has it. The handler writes
its state only after that (streams/trading/stages.py), so a worker killed in between re-does
the record; a record a stopping worker leaves unfinished is never acked, so never committed.
A record a topic never carries is dead-lettered; a record of another stage is left to it; a
handler's exception is dead-lettered with its reason and the agent goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from functools import lru_cache
from typing import Any

import faust
import structlog
from faust.serializers import codecs

from schemas.topics import spec
from streams.app import app, settings
from streams.codecs import AVRO, UTF8
from streams.deadletter import good_records, send_dead_letter
from streams.generations import resolve
from streams.topics import topic
from streams.topology import ACCOUNT_PARTITIONS, INBOX, Facts, Stage, TableSpec
from telemetry.meter import observe_trading

log = structlog.get_logger(__name__)

INBOX_TOPIC = f"{settings.app_id}-trading-inbox"


def topic_name(name: str) -> str:
    """The broker topic of a declared input: the worker's inbox, or the registry topic in this worker's generation."""
    return INBOX_TOPIC if name == INBOX else resolve(name)[0]


def carries(name: str) -> tuple[type, ...]:
    """The record types a topic may hold: the registry's, or for the inbox what the fan-out puts there."""
    if name == INBOX:
        from schemas.records import ShardInput, Signal

        return (Signal, ShardInput)
    return spec(name).value_types


@lru_cache(maxsize=None)
def destination(name: str) -> faust.TopicT:
    if name == INBOX:
        return app.topic(INBOX_TOPIC, partitions=ACCOUNT_PARTITIONS, internal=True, key_serializer=UTF8,
                         value_serializer=AVRO)
    return topic(name)


class _StateCodec(codecs.Codec):
    """A table's state codec (streams.state_codec) as Faust's changelog value serializer."""

    def __init__(self, table: TableSpec) -> None:
        super().__init__()
        self.state = table.codec

    def _dumps(self, obj: Any) -> bytes:
        return self.state.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.state.decode(bytes(s))


def state_table(table: TableSpec, partitions: int | None) -> Any:
    name = f"arbees-state-{table.name}"
    codecs.register(name, _StateCodec(table))
    return app.Table(table.name, partitions=partitions, key_serializer=UTF8, value_serializer=name)


class _Context:
    def __init__(self, stage: Stage, key: str, facts: Facts, tables: dict[str, MutableMapping[str, Any]]) -> None:
        self.stage, self.key, self.facts, self._tables = stage, key, facts, tables

    def table(self, name: str) -> MutableMapping[str, Any]:
        return self._tables[name]

    async def emit(self, outputs: list[Any]) -> None:
        await emit(self.stage, self.key, outputs)

    async def flush(self) -> None:
        await app.producer.flush()


async def emit(stage: Stage, key: str, outputs: list[Any]) -> None:
    """Send every output where the stage's declaration routes it (not attached to the offset commit) and wait
    until the broker has them all."""
    futures = []
    for out in outputs:
        name, out_key, value = stage.route(key, out)
        futures.append(await destination(name).send(key=out_key, value=value, force=True))
        observe_trading(value)
    for fut in futures:
        await fut


def hold(event: faust.EventT) -> None:
    """Keep a record a stopping worker did not finish from being acked. Stopping cancels the agent in the
    middle of it (sending its outputs, say), then closes the stream, which acks the record it was on, and
    commits: the next worker would start after a record whose outputs and state were never all written
    (tests/integration/test_trading_stop.py). Never acked, it is read again from the committed offset."""
    event.message.incref()


def build(stage: Stage, handlers: Any, facts: Callable[[], Facts]) -> Any:
    """The Faust agent of `stage`, its handler taken from `handlers` (streams.trading.stages.Stages)."""
    declared = {topic_name(t): t for t in stage.inputs}  # broker name -> declared name
    channel = app.topic(*declared, partitions=stage.partitions, internal=INBOX in stage.inputs, key_serializer=UTF8,
                        value_serializer=AVRO)
    tables = {t.name: state_table(t, stage.partitions) for t in stage.tables}
    handler = getattr(handlers, stage.handler)

    async def one(event: faust.EventT, record: Any) -> None:
        source = declared.get(event.message.topic, event.message.topic)
        if not isinstance(record, carries(source)):
            await send_dead_letter(event, f"{source} carries {[c.__name__ for c in carries(source)]}, "
                                          f"got {type(record).__name__}", stage.name)
            return
        key = event.key if isinstance(event.key, str) else ""
        if not key or not stage.takes(source, record):
            return  # a record for another stage reading the same topic
        try:
            await handler(_Context(stage, key, facts(), tables), record)
        except Exception as exc:  # noqa: BLE001 - dead-lettered with the reason; the agent goes on
            log.error("stage record failed", stage=stage.name, error=f"{type(exc).__name__}: {exc}")
            await send_dead_letter(event, f"{type(exc).__name__}: {exc}", stage.name)

    async def run(stream: faust.StreamT) -> None:
        async for event, record in good_records(stream, stage.name):
            try:
                await one(event, record)
            except asyncio.CancelledError:
                hold(event)
                raise

    run.__name__ = run.__qualname__ = stage.name.replace("-", "_")
    return app.agent(channel, name=stage.name)(run)
