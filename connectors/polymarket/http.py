"""The one HTTP call shape both REST clients use: keep the raw answer, classify failures, retry politely.

A 429 or 5xx is retried a bounded number of times, never sooner than the venue's
`Retry-After` (seconds or an HTTP date) and otherwise after a jittered exponential
pause; a Retry-After longer than the policy's cap is not slept inside the call but
handed up on the `TransientError`, whose caller backs off at least that long.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from connectors.polymarket.errors import TransientError, VenueRejected

log = structlog.get_logger(__name__)


def wall_clock_ms() -> int:
    """Receive time for RawFeed records; injected everywhere so tests and replays fix it."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class RawResponse:
    """Exactly what the service answered, with where and when we asked."""

    endpoint: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    body: str = ""
    fetched_at: int = 0


@dataclass(frozen=True)
class Retry:
    """Bounded retries of a GET: full-jitter exponential pauses, the venue's Retry-After as a floor.

    `rng` and `sleep` are injectable so tests see the pauses without waiting them.
    """

    attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)

    def delay(self, attempt: int, retry_after_s: float | None) -> float | None:
        """The pause before retry `attempt` (1-based); None: the venue asked for longer than we wait in a call."""
        jitter = self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))
        if retry_after_s is None:
            return jitter
        return None if retry_after_s > self.cap_s else max(jitter, retry_after_s)


def retry_after_s(resp: httpx.Response, now_ms: int) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date, against `now_ms`); None if absent or unreadable."""
    value = resp.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_ms / 1000)


def classify(resp: httpx.Response, url: str, now_ms: int, method: str = "GET") -> None:
    """429/5xx → TransientError (with Retry-After), other 4xx → VenueRejected."""
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientError(f"{method} {url}: HTTP {resp.status_code}", status=resp.status_code,
                             retry_after_s=retry_after_s(resp, now_ms))
    if resp.status_code >= 400:
        raise VenueRejected(f"{method} {url}: HTTP {resp.status_code}: {resp.text[:200]}")


async def get_raw(
    http: httpx.AsyncClient,
    base_url: str,
    path: str,
    endpoint: str,
    params: Mapping[str, Any] | None,
    clock: Callable[[], int],
    retry: Retry | None = None,
) -> RawResponse:
    """GET and return the raw answer, retried per `retry` on 429/5xx/network faults; the last one raises."""
    policy = retry or Retry()
    attempt = 0
    while True:
        try:
            return await _get_once(http, base_url, path, endpoint, params, clock)
        except TransientError as exc:
            attempt += 1
            pause = policy.delay(attempt, exc.retry_after_s) if attempt < policy.attempts else None
            if pause is None:
                raise
            log.warning("polymarket GET retry", path=path, attempt=attempt, pause_s=round(pause, 3), error=str(exc))
            await policy.sleep(pause)


async def _get_once(http: httpx.AsyncClient, base_url: str, path: str, endpoint: str,
                    params: Mapping[str, Any] | None, clock: Callable[[], int]) -> RawResponse:
    str_params = {k: str(v).lower() if isinstance(v, bool) else ",".join(map(str, v)) if isinstance(v, (list, tuple))
                  else str(v) for k, v in (params or {}).items()}
    # a list is sent as a repeated parameter (gamma's `condition_ids=a&condition_ids=b`), recorded comma-joined
    sent = {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else str_params[k] for k, v in (params or {}).items()}
    url = base_url.rstrip("/") + path
    try:
        resp = await http.get(url, params=sent)
    except httpx.HTTPError as exc:
        raise TransientError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    raw = RawResponse(endpoint, url, str_params, resp.status_code, resp.text, clock())
    classify(resp, url, raw.fetched_at)
    return raw
