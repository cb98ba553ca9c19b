"""Async client for FRED's API: series observations and release dates.

The key is a query parameter (`api_key`, from FRED_API_KEY); `connectors.rest.Getter`
sends it as a hidden parameter, so a RawFeed's url carries no query and its params
no key. FRED allows 120 requests a minute per key: requests are spaced at 0.5 s.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from connectors.espn.client import HostRateLimiter, RetryPolicy, Sleep
from connectors.fred.errors import FatalFredError, TransientFredError
from connectors.rest import Fetched, Getter

SOURCE = "fred"
BASE_URL = "https://api.stlouisfed.org/fred"
KEY_ENV = "FRED_API_KEY"


def api_key(env: dict[str, str] | None = None) -> str:
    key = (env if env is not None else os.environ).get(KEY_ENV, "").strip()
    if not key:
        raise FatalFredError(f"FRED needs an API key in ${KEY_ENV}")
    return key


@dataclass
class FredClient:
    http: httpx.AsyncClient
    key: str = field(repr=False)
    limiter: HostRateLimiter = field(default_factory=lambda: HostRateLimiter(min_interval_s=0.5))
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    observer: Callable[[Fetched], None] | None = None
    base_url: str = BASE_URL

    def __post_init__(self) -> None:
        self._getter = Getter(self.http, SOURCE, TransientFredError, FatalFredError, self.limiter, self.policy, self.rng,
                              self.sleep, self.now_ms, self.observer, hidden={"api_key": self.key})

    async def observations(self, series_id: str, observation_start: str | None = None) -> Fetched:
        params = {"series_id": series_id, "file_type": "json"}
        if observation_start:
            params["observation_start"] = observation_start
        return await self._getter.get("series_observations", f"{self.base_url}/series/observations", params)

    async def release_dates(self, release_id: int, include_future: bool = True) -> Fetched:
        params = {"release_id": str(release_id), "include_release_dates_with_no_data": str(include_future).lower(),
                  "sort_order": "asc", "file_type": "json"}
        return await self._getter.get("release_dates", f"{self.base_url}/release/dates", params)


def make_client(timeout_s: float = 15.0, env: dict[str, str] | None = None, **kwargs: object) -> FredClient:
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                             headers={"User-Agent": "arbees-fred-connector/0.1", "Accept": "application/json"})
    return FredClient(http=http, key=api_key(env), **kwargs)  # type: ignore[arg-type]
