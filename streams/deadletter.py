"""Routing bad input to `deadletter` from inside agents, so no message is silently lost."""

from __future__ import annotations

from typing import Any, AsyncIterator

import faust
import structlog

from schemas.deadletters import dead_letter
from streams.codecs import Undecodable
from streams.topics import topic

log = structlog.get_logger(__name__)


async def send_dead_letter(event: faust.EventT, error: BaseException | str, service: str, raw: bytes | None = None) -> None:
    msg = event.message
    value = raw if raw is not None else (msg.value if isinstance(msg.value, bytes) else b"")
    record = dead_letter(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key if isinstance(msg.key, bytes) else None,
        value=value,
        error=error,
        service=service,
        ts=msg.timestamp and int(msg.timestamp * 1000) or 0,
    )
    log.warning("dead-lettered", service=service, topic=msg.topic, partition=msg.partition, offset=msg.offset, error=str(error))
    await topic("deadletter").send(key=msg.topic, value=record)


async def good_records(stream: faust.StreamT, service: str) -> AsyncIterator[tuple[faust.EventT, Any]]:
    """Yield (event, record) for decodable records; dead-letter the rest and go on."""
    async for event in stream.events():
        value = event.value
        if isinstance(value, Undecodable):
            await send_dead_letter(event, f"{value.error_type}: {value.error}", service, raw=value.raw)
            continue
        yield event, value
