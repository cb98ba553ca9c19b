"""Alerts agent: dead letters, risk events and unhealthy heartbeats become rate-limited alerts.

The limiter lives in memory: its inputs have different partition counts, so a
co-partitioned table is not possible; after a restart at most one extra alert
per key goes out, never one fewer.
"""

from __future__ import annotations

import faust
import structlog

from schemas.enums import Severity
from streams import alerting
from streams.app import app
from streams.codecs import AVRO, UTF8
from streams.deadletter import good_records
from streams.topics import topic

log = structlog.get_logger(__name__)
SERVICE = "alerts"
sources = app.topic("deadletter", "risk.state", "health", key_serializer=UTF8, value_serializer=AVRO)
limiter = alerting.RateLimiter()


@app.agent(sources)
async def raise_alerts(stream: faust.StreamT) -> None:
    global limiter
    async for _event, record in good_records(stream, SERVICE):
        try:
            limiter, alerts = alerting.step(limiter, record)
        except TypeError as exc:
            log.error("unexpected record on an alert source", error=str(exc))
            continue
        for alert in alerts:
            level = "error" if alert.severity in (Severity.ERROR, Severity.CRITICAL) else "warning"
            getattr(log, level)("alert", key=alert.dedupe_key, message=alert.message)
            await topic("alerts").send(key=alert.dedupe_key, value=alert)
