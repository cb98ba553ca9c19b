"""Async client for CoinGecko's /simple/price and /coins/{id}/market_chart.

Requests go through `connectors.rest.Getter` (raw answer to the observer first,
retries, spacing). The key of a keyed tier travels in a header only (set on the
httpx client by `make_client`), so a RawFeed (url, params, body) never contains it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from connectors.coingecko.errors import FatalCoinGeckoError, TransientCoinGeckoError
from connectors.coingecko.tiers import PUBLIC, Tier, auth_headers
from connectors.espn.client import HostRateLimiter, RetryPolicy, Sleep
from connectors.rest import Fetched, Getter

SOURCE = "coingecko"


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

    def __post_init__(self) -> None:
        self._getter = Getter(self.http, SOURCE, TransientCoinGeckoError, FatalCoinGeckoError, self.limiter, self.policy,
                              self.rng, self.sleep, self.now_ms, self.observer)

    async def simple_price(self, coin_ids: Sequence[str], vs: str = "usd") -> Fetched:
        """Spot of several coins in one call, with CoinGecko's own last-update time per coin."""
        params = {"ids": ",".join(coin_ids), "vs_currencies": vs, "include_last_updated_at": "true"}
        return await self._getter.get("simple_price", f"{self.tier.base_url}/simple/price", params)

    async def market_chart(self, coin_id: str, days: int, vs: str = "usd") -> Fetched:
        """Price history: 5-minute points for 1 day, hourly for 2-90 days, daily beyond (CoinGecko's granularity)."""
        url = f"{self.tier.base_url}/coins/{coin_id}/market_chart"
        return await self._getter.get("market_chart", url, {"vs_currency": vs, "days": str(days)})


def make_client(tier: Tier = PUBLIC, timeout_s: float = 10.0, **kwargs: object) -> CoinGeckoClient:
    """The production client: the tier's host and key header, its request spacing, no redirects."""
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "arbees-coingecko-connector/0.1", "Accept": "application/json", **auth_headers(tier)},
    )
    limiter = HostRateLimiter(min_interval_s=tier.min_interval_s)
    return CoinGeckoClient(http=http, tier=tier, limiter=limiter, **kwargs)  # type: ignore[arg-type]
