"""Async client for FRED's API: series observations, one release's dates, every release's dates.

The key is a query parameter (`api_key`, from FRED_API_KEY); it is sent but never
recorded: a RawFeed's url carries no query and its params drop the key. FRED allows
120 requests a minute per key; requests are spaced at 0.5 s and retried like the
other connectors (the ESPN connector's limiter and backoff policy).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import structlog

from connectors.espn.client import HostRateLimiter, RetryPolicy, Sleep
from connectors.fred.errors import FatalFredError, TransientFredError
from schemas.records import RawFeed

log = structlog.get_logger(__name__)
SOURCE = "fred"
BASE_URL = "https://api.stlouisfed.org/fred"
KEY_ENV = "FRED_API_KEY"
SECRET_PARAMS = frozenset({"api_key"})


@dataclass(frozen=True)
class Fetched:
    endpoint: str  # "series_observations", "release_dates", "releases_dates"
    url: str  # without query
    params: dict[str, str]  # without the key
    status: int
    fetched_at: int
    body: str

    def raw_feed(self) -> RawFeed:
        digest = hashlib.sha1(f"{self.url}?{sorted(self.params.items())}\n{self.status}\n{self.body}".encode()).hexdigest()[:12]
        return RawFeed(
            raw_id=f"{SOURCE}:{self.endpoint}:{self.fetched_at}:{digest}", ts=self.fetched_at, source=SOURCE,
            endpoint=self.endpoint, url=self.url, params=dict(self.params), status=self.status,
            fetched_at=self.fetched_at, body=self.body,
        )


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

    async def observations(self, series_id: str, observation_start: str | None = None) -> Fetched:
        params = {"series_id": series_id}
        if observation_start:
            params["observation_start"] = observation_start
        return await self.get("series_observations", "/series/observations", params)

    async def release_dates(self, release_id: int, include_future: bool = True) -> Fetched:
        params = {"release_id": str(release_id), "include_release_dates_with_no_data": str(include_future).lower(), "sort_order": "asc"}
        return await self.get("release_dates", "/release/dates", params)

    async def get(self, endpoint: str, path: str, params: dict[str, str]) -> Fetched:
        url = self.base_url + path
        if not url.startswith("https://"):
            raise FatalFredError(f"refusing non-HTTPS URL {url!r}")
        params = {**params, "file_type": "json"}
        last: TransientFredError | None = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                assert last is not None
                pause = self.policy.delay(attempt - 1, self.rng, last.retry_after_s)
                log.info("fred retry", url=url, attempt=attempt, pause_s=round(pause, 3), reason=str(last))
                await self.sleep(pause)
            await self.limiter.acquire(httpx.URL(url).host)
            try:
                return await self._once(endpoint, url, params)
            except TransientFredError as exc:
                last = exc
        assert last is not None
        raise TransientFredError(f"{url}: gave up after {self.policy.max_attempts} attempts: {last}", status=last.status) from last

    async def _once(self, endpoint: str, url: str, params: dict[str, str]) -> Fetched:
        try:
            resp = await self.http.get(url, params={**params, "api_key": self.key})
        except httpx.TimeoutException as exc:
            raise TransientFredError(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientFredError(f"transport: {type(exc).__name__}") from exc  # the message could echo the URL with the key
        fetched = Fetched(endpoint, url, {k: v for k, v in params.items() if k not in SECRET_PARAMS}, resp.status_code, self.now_ms(), resp.text)
        if self.observer is not None:
            self.observer(fetched)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientFredError(f"HTTP {resp.status_code}", status=resp.status_code)
        if resp.status_code != 200:
            raise FatalFredError(f"{url}: HTTP {resp.status_code}")
        return fetched


def make_client(timeout_s: float = 15.0, env: dict[str, str] | None = None, **kwargs: object) -> FredClient:
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                             headers={"User-Agent": "arbees-fred-connector/0.1", "Accept": "application/json"})
    return FredClient(http=http, key=api_key(env), **kwargs)  # type: ignore[arg-type]
