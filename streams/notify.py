"""Delivering alerts to people: stdout and Slack-/Discord-compatible webhooks (the shell around streams.alerting).

Environment:
    ARBEES_ALERT_SLACK_URLS     comma list of Slack incoming-webhook URLs   (JSON {"text": ...})
    ARBEES_ALERT_DISCORD_URLS   comma list of Discord webhook URLs          (JSON {"content": ...})
    ARBEES_ALERT_MAX_PER_MIN    alerts delivered per minute across keys (20); the rest wait for the digest
    ARBEES_ALERT_QUIET_HOURS    e.g. 22-7 (UTC): non-critical alerts wait for the digest
    ARBEES_ALERT_MAX_AGE_S      an alert read this long after it happened (a backlog) waits for the digest (600)
    ARBEES_ALERT_DIGEST_S       seconds between digests (3600)
    ARBEES_ALERT_WINDOW_S       per-key dedupe window (60)
Webhook URLs are secrets: they are never logged, only their host.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import structlog

from streams.alerting import Delivery, DeliveryPolicy

log = structlog.get_logger(__name__)
DISCORD_LIMIT = 2000  # characters Discord accepts in `content`


def _urls(raw: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in raw.split(",") if u.strip())


def policy_from_env(env: Mapping[str, str] | None = None) -> DeliveryPolicy:
    e = os.environ if env is None else env
    quiet = None
    raw = e.get("ARBEES_ALERT_QUIET_HOURS", "").strip()
    if raw:
        start, _, end = raw.partition("-")
        quiet = (int(start) % 24, int(end) % 24)
    return DeliveryPolicy(
        max_per_minute=int(e.get("ARBEES_ALERT_MAX_PER_MIN", "") or 20),
        quiet_hours=quiet,
        digest_every_ms=int(float(e.get("ARBEES_ALERT_DIGEST_S", "") or 3600) * 1000),
        max_age_ms=int(float(e.get("ARBEES_ALERT_MAX_AGE_S", "") or 600) * 1000),
    )


def window_ms_from_env(env: Mapping[str, str] | None = None) -> int:
    e = os.environ if env is None else env
    return int(float(e.get("ARBEES_ALERT_WINDOW_S", "") or 60) * 1000)


@dataclass(frozen=True)
class Webhook:
    url: str
    flavour: str  # "slack" | "discord"

    def body(self, delivery: Delivery) -> dict[str, str]:
        if self.flavour == "discord":
            return {"content": delivery.text[:DISCORD_LIMIT]}
        return {"text": delivery.text}

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


class Notifier:
    """Prints every delivery and posts it to every configured webhook, without stalling the caller."""

    def __init__(self, env: Mapping[str, str] | None = None, client: httpx.AsyncClient | None = None) -> None:
        e = os.environ if env is None else env
        self.hooks = tuple(Webhook(u, "slack") for u in _urls(e.get("ARBEES_ALERT_SLACK_URLS", ""))) + tuple(
            Webhook(u, "discord") for u in _urls(e.get("ARBEES_ALERT_DISCORD_URLS", "")))
        self._client = client
        self._pending: set[asyncio.Task[None]] = set()

    def deliver(self, delivery: Delivery) -> None:
        print(f"ALERT {delivery.text}" if delivery.kind == "alert" else f"DIGEST {delivery.text}", file=sys.stdout, flush=True)
        for hook in self.hooks:
            task = asyncio.ensure_future(self._post(hook, delivery))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _post(self, hook: Webhook, delivery: Delivery) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        try:
            answer = await self._client.post(hook.url, json=hook.body(delivery))
            if answer.status_code >= 300:
                log.warning("alert webhook refused", host=hook.host, status=answer.status_code)
        except httpx.HTTPError as exc:
            log.warning("alert webhook unreachable", host=hook.host, error=type(exc).__name__)
