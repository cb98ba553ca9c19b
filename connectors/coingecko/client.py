"""Async client for CoinGecko's /simple/price and /coins/{id}/market_chart.

Every HTTP answer (including retried 429s and 5xxs) goes to the `observer`
first, which is how the connector publishes it to `raw.coingecko` before
normalizing. The key travels in a header only, so a RawFeed (url, params,
body) never contains it. Spacing and retries reuse the ESPN connector's
policy objects: one limiter per host, bounded exponential backoff with full
jitter, Retry-After honoured; random source, sleep and clock are injected.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import structlog

from connectors.coingecko.errors import FatalCoinGeckoError, TransientCoinGeckoError
from connectors.coingecko.tiers import PUBLIC, Tier, auth_headers
from connectors.espn.client import HostRateLimiter, RetryPolicy, Sleep
from schemas.records import RawFeed

log = structlog.get_logger(__name__)
SOURCE = "coingecko"


@dataclass(frozen=True)
class Fetched:
    endpoint: str  # "simple_price" or "market_chart"
    url: str
    params: dict[str, str]
    status: int
    fetched_at: int
    body: str

    def raw_feed(self) -> RawFeed:
        digest = hashlib.sha1(f"{self.url}?{sorted(self.params.items())}\n{self.status}\n{self.body}".encode()).hexdigest()[:12]
        return RawFeed(
            raw_id=f"{SOURCE}:{self.endpoint}:{self.fetched_at}:{digest}",
            ts=self.fetched_at,
            source=SOURCE,
            endpoint=self.endpoint,
            url=self.url,
            params=dict(self.params),
            status=self.status,
            fetched_at=self.fetched_at,
            body=self.body,
        )


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


@dataclass
class CoinGeckoClient:
    """Construct with `make_client()` outside tests."""

    http: httpx.AsyncClient
    tier: Tier = PUBLIC
    limiter: HostRateLimiter = field(default_factory=HostRateLimiter)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    observer: Callable[[Fetched], None] | None = None

    async def simple_price(self, coin_ids: Sequence[str], vs: str = "usd") -> Fetched:
        """Spot of several coins in one call, with CoinGecko's own last-update time per coin."""
        params = {"ids": ",".join(coin_ids), "vs_currencies": vs, "include_last_updated_at": "true"}
        return await self.get("simple_price", "/simple/price", params)

    async def market_chart(self, coin_id: str, days: int, vs: str = "usd") -> Fetched:
        """Price history: 5-minute points for 1 day, hourly for 2-90 days, daily beyond (CoinGecko's granularity)."""
        return await self.get("market_chart", f"/coins/{coin_id}/market_chart", {"vs_currency": vs, "days": str(days)})

    async def get(self, endpoint: str, path: str, params: dict[str, str]) -> Fetched:
        url = self.tier.base_url + path
        host = httpx.URL(url).host
        if not url.startswith("https://"):
            raise FatalCoinGeckoError(f"refusing non-HTTPS URL {url!r}")
        last: TransientCoinGeckoError | None = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                assert last is not None
                pause = self.policy.delay(attempt - 1, self.rng, last.retry_after_s)
                log.info("coingecko retry", url=url, attempt=attempt, pause_s=round(pause, 3), reason=str(last))
                await self.sleep(pause)
            await self.limiter.acquire(host)
            try:
                return await self._once(endpoint, url, params)
            except TransientCoinGeckoError as exc:
                last = exc
        assert last is not None
        raise TransientCoinGeckoError(f"{url}: gave up after {self.policy.max_attempts} attempts: {last}", status=last.status) from last

    async def _once(self, endpoint: str, url: str, params: dict[str, str]) -> Fetched:
        try:
            resp = await self.http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise TransientCoinGeckoError(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientCoinGeckoError(f"transport: {type(exc).__name__}: {exc}") from exc
        fetched = Fetched(endpoint, url, dict(params), resp.status_code, self.now_ms(), resp.text)
        if self.observer is not None:
            self.observer(fetched)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientCoinGeckoError(f"HTTP {resp.status_code}", status=resp.status_code, retry_after_s=_retry_after(resp))
        if resp.status_code != 200:
            raise FatalCoinGeckoError(f"{url}: HTTP {resp.status_code}")
        return fetched


def make_client(tier: Tier = PUBLIC, timeout_s: float = 10.0, **kwargs: object) -> CoinGeckoClient:
    """The production client: the tier's host and key header, its request spacing, no redirects."""
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "arbees-coingecko-connector/0.1", "Accept": "application/json", **auth_headers(tier)},
    )
    limiter = HostRateLimiter(min_interval_s=tier.min_interval_s)
    return CoinGeckoClient(http=http, tier=tier, limiter=limiter, **kwargs)  # type: ignore[arg-type]
