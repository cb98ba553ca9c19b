"""Alerts agent: dead letters, risk events, unhealthy or silent parts become rate-limited alerts, delivered.

Every alert goes on the `alerts` topic; what reaches people (stdout, Slack,
Discord) passes the dispatcher (global rate limit, quiet hours) and the rest is
counted into the periodic digest, with fills and balances of the period.
The limiter and watch live in memory: their inputs have different partition
counts, so a co-partitioned table is not possible; after a restart at most one
extra alert per key goes out, never one fewer.
"""

from __future__ import annotations

import time

import faust
import structlog

from schemas.enums import Severity
from schemas.records import Alert, Fill, Heartbeat, LedgerEntry
from streams import alerting, notify
from streams.app import app
from streams.codecs import AVRO, UTF8
from streams.deadletter import good_records
from streams.topics import topic

log = structlog.get_logger(__name__)
SERVICE = "alerts"
sources = app.topic("deadletter", "risk.state", "health", "fills", "ledger", key_serializer=UTF8, value_serializer=AVRO)
limiter = alerting.RateLimiter(window_ms=notify.window_ms_from_env())
watch = alerting.HeartbeatWatch()
dispatcher = alerting.Dispatcher(notify.policy_from_env())
notifier = notify.Notifier()


async def _emit(alerts: list[Alert]) -> None:
    for alert in alerts:
        level = "error" if alert.severity in (Severity.ERROR, Severity.CRITICAL) else "warning"
        getattr(log, level)("alert", key=alert.dedupe_key, message=alert.message)
        await topic("alerts").send(key=alert.dedupe_key, value=alert)
        for delivery in dispatcher.offer(alert):
            notifier.deliver(delivery)


@app.agent(sources)
async def raise_alerts(stream: faust.StreamT) -> None:
    global limiter
    async for _event, record in good_records(stream, SERVICE):
        if isinstance(record, Fill):
            dispatcher.note_fill()
            continue
        if isinstance(record, LedgerEntry):
            dispatcher.note_balance(record.account, record.balance_micros)
            continue
        if isinstance(record, Heartbeat):
            watch.observe(record)
        try:
            limiter, alerts = alerting.step(limiter, record)
        except TypeError as exc:
            log.error("unexpected record on an alert source", error=str(exc))
            continue
        await _emit(alerts)


@app.timer(interval=1.0)
async def watch_and_digest() -> None:
    """Silence is news: parts that missed their heartbeats; and the digest when due (wall clock: this is the shell)."""
    global limiter
    now = int(time.time() * 1000)
    missed: list[Alert] = []
    for alert in watch.missed(now):
        limiter, out = alerting.step_alert(limiter, alert)
        missed += out
    await _emit(missed)
    for delivery in dispatcher.tick(now, limiter):
        notifier.deliver(delivery)
