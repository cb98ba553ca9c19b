"""Async HTTP client for Kalshi's Trade API v2: discovery, order books, signed calls.

Every answer comes back as `Fetched` — status, URL, params, receive time and the
body text exactly as sent — so the feed can put it on `raw.kalshi` before
anything is parsed. List endpoints page with `cursor` (an empty cursor ends the
list, per Kalshi's OpenAPI). GETs are retried with bounded exponential backoff
and jitter; writes are never retried here (trading.py reconciles instead).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from connectors.kalshi.auth import KalshiSigner
from connectors.kalshi.errors import BadPayload, CredentialsMissing, FatalKalshiError, TransientKalshiError

log = structlog.get_logger(__name__)

PROD_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
DEMO_BASE_URL = "https://demo-api.kalshi.co/trade-api/v2"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Fetched:
    """One HTTP exchange as it happened; `endpoint` is the path template (the raw topic key)."""

    endpoint: str
    method: str
    url: str
    params: dict[str, str]
    status: int
    fetched_at: int
    body: str

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise BadPayload(self.endpoint, f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadPayload(self.endpoint, f"expected a JSON object, got {type(data).__name__}")
        return data


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; `rng` is injectable for tests."""

    attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(self.cap_s, retry_after_s)
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def _clean(params: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (params or {}).items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class KalshiRest:
    """Trade API v2 over one `httpx.AsyncClient`. Construction opens nothing; `aclose()` ends it."""

    def __init__(
        self,
        base_url: str = PROD_BASE_URL,
        *,
        signer: KalshiSigner | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path
        self.signer = signer
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def now_ms(self) -> int:
        """The injected clock (record times of answers and statuses)."""
        return self._clock()

    def __repr__(self) -> str:
        return f"KalshiRest(base_url={self.base_url!r}, signed={self.signer is not None})"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> KalshiRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- core

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        signed: bool = False,
    ) -> Fetched:
        """One exchange, no retry. 429/5xx/transport faults are transient; other 4xx fatal."""
        if signed and self.signer is None:
            raise CredentialsMissing(
                f"{method} {path} needs a signed request but no Kalshi credentials are configured "
                "(set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH)"
            )
        url = self.base_url + path
        clean = _clean(params)
        headers = {"Accept": "application/json"}
        if self.signer is not None and signed:
            headers.update(self.signer.headers(self._clock(), method, self._base_path + path))
        content = json.dumps(body, separators=(",", ":")) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = await self._client.request(method, url, params=clean or None, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise TransientKalshiError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        fetched = Fetched(endpoint or path, method, str(resp.url), clean, resp.status_code, self._clock(), resp.text)
        if resp.status_code == 429 or resp.status_code >= 500:
            retry_after = resp.headers.get("Retry-After")
            raise TransientKalshiError(
                f"{method} {path}: HTTP {resp.status_code}",
                status=resp.status_code,
                retry_after_s=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
            )
        if resp.status_code >= 400:
            raise FatalKalshiError(f"{method} {path}: HTTP {resp.status_code}: {resp.text[:300]}", status=resp.status_code, body=resp.text)
        return fetched

    async def get(self, path: str, *, endpoint: str | None = None, params: dict[str, Any] | None = None, signed: bool = False) -> Fetched:
        """A GET, retried on transient faults per the retry policy."""
        attempt = 0
        while True:
            try:
                return await self.request("GET", path, endpoint=endpoint, params=params, signed=signed)
            except TransientKalshiError as exc:
                attempt += 1
                if attempt >= self._retry.attempts:
                    raise
                delay = self._retry.delay(attempt, exc.retry_after_s)
                log.warning("kalshi GET retry", path=path, attempt=attempt, delay_s=round(delay, 3), error=str(exc))
                await self._sleep(delay)

    async def pages(self, path: str, *, endpoint: str, params: dict[str, Any], signed: bool = False, max_pages: int = 1000) -> AsyncIterator[Fetched]:
        """Every page of a cursor-paginated list; stops on an empty cursor."""
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.get(path, endpoint=endpoint, params={**params, "cursor": cursor}, signed=signed)
            yield page
            cursor = page.json().get("cursor") or None
            if cursor is None:
                return
        raise FatalKalshiError(f"{path}: more than {max_pages} pages; refusing to page forever")

    # ------------------------------------------------------------ discovery

    async def get_series(self, series_ticker: str) -> Fetched:
        return await self.get(f"/series/{series_ticker}", endpoint="series/{series_ticker}")

    def list_series(self, category: str | None = None) -> AsyncIterator[Fetched]:
        return self.pages("/series", endpoint="series", params={"category": category})

    def iter_events(
        self, *, series_ticker: str | None = None, status: str | None = None, with_nested_markets: bool = False, limit: int = 200
    ) -> AsyncIterator[Fetched]:
        return self.pages(
            "/events",
            endpoint="events",
            params={"series_ticker": series_ticker, "status": status, "with_nested_markets": with_nested_markets, "limit": limit},
        )

    def iter_markets(
        self,
        *,
        series_ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        tickers: list[str] | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[Fetched]:
        return self.pages(
            "/markets",
            endpoint="markets",
            params={
                "series_ticker": series_ticker,
                "event_ticker": event_ticker,
                "status": status,
                "tickers": ",".join(tickers) if tickers else None,
                "limit": limit,
            },
        )

    async def get_market(self, ticker: str) -> Fetched:
        return await self.get(f"/markets/{ticker}", endpoint="markets/{ticker}")

    async def get_orderbook(self, ticker: str, depth: int = 0) -> Fetched:
        """GET /markets/{ticker}/orderbook; the current spec lists it under the signed endpoints."""
        return await self.get(
            f"/markets/{ticker}/orderbook",
            endpoint="markets/{ticker}/orderbook",
            params={"depth": depth or None},
            signed=self.signer is not None,
        )
