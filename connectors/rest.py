"""The GET-with-retries every polled JSON API shares (CoinGecko, FRED): raw answer first, then classify.

Every HTTP answer, retried ones included, goes to the `observer` before anything
else looks at it, which is how a connector publishes it to `raw.<source>` before
normalizing. Query parameters named in `hidden` (API keys) are sent but never
recorded: a Fetched keeps the URL without its query and the params without them.
Spacing and backoff are the ESPN connector's policy objects (one limiter per host,
bounded exponential backoff with full jitter, Retry-After honoured).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from connectors.espn.client import HostRateLimiter, RetryPolicy, Sleep
from schemas.records import RawFeed

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Fetched:
    """One HTTP answer exactly as received, with what was asked (minus hidden parameters)."""

    source: str
    endpoint: str
    url: str  # without query
    params: dict[str, str]
    status: int
    fetched_at: int
    body: str

    def raw_feed(self) -> RawFeed:
        digest = hashlib.sha1(f"{self.url}?{sorted(self.params.items())}\n{self.status}\n{self.body}".encode()).hexdigest()[:12]
        return RawFeed(
            raw_id=f"{self.source}:{self.endpoint}:{self.fetched_at}:{digest}", ts=self.fetched_at, source=self.source,
            endpoint=self.endpoint, url=self.url, params=dict(self.params), status=self.status,
            fetched_at=self.fetched_at, body=self.body,
        )


class TransientHttpError(Exception):
    """Timeout, transport error, 429 or 5xx: worth another attempt after a pause."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class BadPayloadError(Exception):
    """An answer that does not have the documented shape; `where` names the offending JSON path."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.detail = detail


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


@dataclass
class Getter:
    """GET one JSON API politely; `transient`/`fatal` are the connector's own error classes."""

    http: httpx.AsyncClient
    source: str
    transient: Callable[..., Exception]
    fatal: Callable[[str], Exception]
    limiter: HostRateLimiter = field(default_factory=HostRateLimiter)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    observer: Callable[[Fetched], None] | None = None
    hidden: dict[str, str] = field(default_factory=dict, repr=False)

    async def get(self, endpoint: str, url: str, params: dict[str, str]) -> Fetched:
        if not url.startswith("https://"):
            raise self.fatal(f"refusing non-HTTPS URL {url!r}")
        last: Any = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                pause = self.policy.delay(attempt - 1, self.rng, last.retry_after_s)
                log.info("retry", source=self.source, url=url, attempt=attempt, pause_s=round(pause, 3), reason=str(last))
                await self.sleep(pause)
            await self.limiter.acquire(httpx.URL(url).host)
            try:
                return await self._once(endpoint, url, params)
            except Exception as exc:  # only the connector's transient class is retried
                if not isinstance(exc, self.transient):  # type: ignore[arg-type]
                    raise
                last = exc
        raise self.transient(f"{url}: gave up after {self.policy.max_attempts} attempts: {last}", status=last.status) from last

    async def _once(self, endpoint: str, url: str, params: dict[str, str]) -> Fetched:
        try:
            resp = await self.http.get(url, params={**params, **self.hidden})
        except httpx.TimeoutException as exc:
            raise self.transient(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise self.transient(f"transport: {type(exc).__name__}") from exc  # the message could echo a hidden key
        fetched = Fetched(self.source, endpoint, url, dict(params), resp.status_code, self.now_ms(), resp.text)
        if self.observer is not None:
            self.observer(fetched)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise self.transient(f"HTTP {resp.status_code}", status=resp.status_code, retry_after_s=_retry_after(resp))
        if resp.status_code != 200:
            raise self.fatal(f"{url}: HTTP {resp.status_code}")
        return fetched


def replay_files(paths: Iterable[Path], on_raw: Callable[[RawFeed], Any]) -> list[Any]:
    """Feed recorded RawFeed JSON files (one record each) to a pipeline, in order."""
    return [on_raw(RawFeed(**json.loads(Path(p).read_text()))) for p in paths]


def log_replayed(outcomes: list[Any]) -> None:
    """One line per replay: how many answers, the states they made and what went to the deadletter."""
    log.info("replayed", answers=len(outcomes), states=sum(len(o.states) for o in outcomes),
             dead_letters=sum(o.dead_letters for o in outcomes))
