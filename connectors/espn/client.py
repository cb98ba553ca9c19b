"""Async client for ESPN's public site API: scoreboards, game summaries, team lists.

HTTPS only and no redirects followed (a redirect could downgrade the scheme).
Every HTTP answer, including the 429s and 5xxs that are retried, is handed to
the `observer` before anything else looks at it, which is how the connector
publishes each raw response to `raw.espn` before normalizing it.

Politeness: one rate limiter per host spaces request starts; transient
failures (timeouts, transport errors, 429, 5xx) are retried with bounded
exponential backoff and full jitter, honouring Retry-After as a floor. The
random source, the sleep and the clock are injected so tests run instantly.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import httpx
import structlog

from connectors.espn.errors import FatalEspnError, TransientEspnError
from connectors.espn.leagues import League
from schemas.records import RawFeed

log = structlog.get_logger(__name__)

SITE_API = "https://site.api.espn.com/apis/site/v2/sports"
SOURCE = "espn"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Fetched:
    """One HTTP answer exactly as received, with what was asked."""

    endpoint: str  # "scoreboard", "summary", "teams"
    league: str
    url: str
    params: dict[str, str]
    status: int
    fetched_at: int  # epoch ms when the answer arrived
    body: str

    def raw_feed(self) -> RawFeed:
        digest = hashlib.sha1(f"{self.url}?{sorted(self.params.items())}\n{self.status}\n{self.body}".encode()).hexdigest()[:12]
        return RawFeed(
            raw_id=f"{SOURCE}:{self.endpoint}:{self.league}:{self.fetched_at}:{digest}",
            ts=self.fetched_at,
            source=SOURCE,
            endpoint=self.endpoint,
            url=self.url,
            params=dict(self.params),
            status=self.status,
            fetched_at=self.fetched_at,
            body=self.body,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: delay ~ U(0, min(cap, base * 2^attempt))."""

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * (2**attempt))
        jittered = rng.uniform(0.0, ceiling)
        if retry_after_s is not None:  # the server said how long; never come back sooner
            return min(max(jittered, retry_after_s), max(self.cap_s, retry_after_s))
        return jittered


class HostRateLimiter:
    """Spaces request starts to the same host at least `min_interval_s` apart."""

    def __init__(self, min_interval_s: float = 0.25, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._sleep = sleep
        self._next_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, host: str) -> None:
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = self._clock()
            at = self._next_at.get(host, now)
            if at > now:
                await self._sleep(at - now)
                now = at
            self._next_at[host] = now + self.min_interval_s


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back on our own backoff


@dataclass
class EspnClient:
    """Fetches from ESPN; construct with `make_client()` outside tests."""

    http: httpx.AsyncClient
    limiter: HostRateLimiter = field(default_factory=HostRateLimiter)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    observer: Callable[[Fetched], None] | None = None
    base_url: str = SITE_API

    async def scoreboard(self, lg: League, day: date | None = None) -> Fetched:
        """All of a league's games on `day` (ESPN's current day when None) in one request."""
        params = dict(lg.scoreboard_params)
        if day is not None:
            params["dates"] = day.strftime("%Y%m%d")
        return await self.get("scoreboard", lg, f"{self.base_url}/{lg.api_path}/scoreboard", params)

    async def summary(self, lg: League, espn_event_id: str) -> Fetched:
        """One game's plays, win probability, pick center odds and box score."""
        return await self.get("summary", lg, f"{self.base_url}/{lg.api_path}/summary", {"event": espn_event_id})

    async def teams(self, lg: League) -> Fetched:
        return await self.get("teams", lg, f"{self.base_url}/{lg.api_path}/teams", {"limit": "1000"})

    async def get(self, endpoint: str, lg: League, url: str, params: dict[str, str]) -> Fetched:
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise FatalEspnError(f"refusing non-HTTPS URL {url!r}")
        last: TransientEspnError | None = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                assert last is not None
                pause = self.policy.delay(attempt - 1, self.rng, last.retry_after_s)
                log.info("espn retry", url=url, attempt=attempt, pause_s=round(pause, 3), reason=str(last))
                await self.sleep(pause)
            await self.limiter.acquire(parts.netloc)
            try:
                return await self._once(endpoint, lg, url, params)
            except TransientEspnError as exc:
                last = exc
        assert last is not None
        raise TransientEspnError(f"{url}: gave up after {self.policy.max_attempts} attempts: {last}", status=last.status) from last

    async def _once(self, endpoint: str, lg: League, url: str, params: dict[str, str]) -> Fetched:
        try:
            resp = await self.http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise TransientEspnError(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientEspnError(f"transport: {type(exc).__name__}: {exc}") from exc
        fetched = Fetched(endpoint, lg.key, url, dict(params), resp.status_code, self.now_ms(), resp.text)
        if self.observer is not None:
            self.observer(fetched)
        status = resp.status_code
        if status == 429 or status >= 500:
            raise TransientEspnError(f"HTTP {status}", status=status, retry_after_s=_retry_after(resp))
        if status != 200:
            raise FatalEspnError(f"{url}: HTTP {status}", status=status)
        return fetched


def make_client(timeout_s: float = 10.0, **kwargs: object) -> EspnClient:
    """The production client: HTTP/1.1 keep-alive pool, no redirects, a polite user agent."""
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "arbees-espn-connector/0.1", "Accept": "application/json"},
    )
    return EspnClient(http=http, **kwargs)  # type: ignore[arg-type]
