"""Alerts agent: dead letters, risk events, unhealthy or silent parts become rate-limited alerts, delivered.

Every alert goes on the `alerts` topic (routed by streams/topology.py); what reaches people
(stdout, Slack, Discord) passes the dispatcher (global rate limit, quiet hours) and the rest is
counted into the periodic digest, with fills and balances of the period. The limiter and
watch live in memory (streams/upstream_stages.AlertStages): their inputs have different
partition counts, so a co-partitioned table is not possible; after a restart at most one
extra alert per key goes out, never one fewer.
"""

from __future__ import annotations

import time

from schemas.records import Alert
from streams import alerting, notify
from streams.agents import runner
from streams.app import app
from streams.topology import stage
from streams.upstream_stages import AlertStages

def wall_ms() -> int:
    """The shell's clock: what is news, and who went silent, is judged on the wall clock."""
    return int(time.time() * 1000)


notifier = notify.Notifier()
handlers = AlertStages(alerting.RateLimiter(window_ms=notify.window_ms_from_env()),
                       alerting.Dispatcher(notify.policy_from_env()), notifier.deliver, now_ms=wall_ms)
agents = runner.build_group("alerts", handlers)


async def _emit(alerts: list[Alert]) -> None:
    await runner.emit(stage("alerts"), "", alerts)


@app.timer(interval=1.0)
async def watch_and_digest() -> None:
    """Silence is news: parts that missed their heartbeats; and the digest when due (wall clock: this is the shell)."""
    await handlers.watch_and_digest(_emit, wall_ms())
